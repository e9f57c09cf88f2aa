//! What the ceiling servers of the benchmark share: the port they listen on.

/// The port from `PORT` (default 3900, the benchmark contract's); exits with status 2
/// when it is not a port number.
pub fn port() -> u16 {
    match std::env::var("PORT") {
        Ok(p) => p.parse().unwrap_or_else(|_| {
            eprintln!("invalid PORT {p:?}");
            std::process::exit(2)
        }),
        Err(_) => 3900,
    }
}
