//! TLS through rustls: `https` / `wss` to our own server behind a TLS front that uses
//! a test CA (`tests/tls/`: a CA and a certificate for `localhost` and 127.0.0.1, valid
//! for 100 years).

mod common;

use std::sync::Arc;
use std::time::Duration;

use sockio_client::engine::{CloseReason, TransportError};
use sockio_client::rustls::pki_types::pem::PemObject;
use sockio_client::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sockio_client::{rustls, tls_config_with_roots, ClientBuilder, Error, TransportKind, Value};
use sockio_server::SocketIo;
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(5);
const CA: &[u8] = include_bytes!("tls/ca.pem");
const CERT: &[u8] = include_bytes!("tls/server.pem");
const KEY: &[u8] = include_bytes!("tls/server.key");

/// Our server on a plain port, and a TLS front (the returned port) that forwards to it.
async fn tls_server() -> u16 {
    let io = SocketIo::new();
    io.on_connection(|s| {
        s.on("echo", |_, mut ev| {
            let args = ev.take_args();
            let _ = ev.ack(args);
        });
    });
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_port = plain.local_addr().unwrap().port();
    tokio::spawn(async move { io.serve(plain).await });

    let certs = vec![CertificateDer::from_pem_slice(CERT).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = front.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = front.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut backend) = TcpStream::connect(("127.0.0.1", plain_port)).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut backend).await;
            });
        }
    });
    port
}

fn test_roots() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(CA).unwrap())
        .unwrap();
    tls_config_with_roots(roots).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_with_custom_roots() {
    let port = tls_server().await;
    for (url, transports) in [
        (
            format!("https://localhost:{port}/"),
            vec![TransportKind::Polling, TransportKind::WebSocket],
        ),
        (
            format!("https://127.0.0.1:{port}/"),
            vec![TransportKind::Polling],
        ),
        (
            format!("wss://localhost:{port}/"),
            vec![TransportKind::WebSocket],
        ),
    ] {
        let socket = tokio::time::timeout(
            T,
            ClientBuilder::new(&url)
                .force_new(true)
                .transports(&transports)
                .tls_config(test_roots())
                .connect(),
        )
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
        let reply = socket
            .timeout(T)
            .emit_with_ack("echo", "over tls")
            .await
            .unwrap();
        assert_eq!(reply, vec![Value::from("over tls")], "{url}");
        socket.io().close();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_issuer_is_refused_by_default() {
    let port = tls_server().await;
    // The default roots (webpki-roots) do not know the test CA.
    let err = tokio::time::timeout(
        T,
        ClientBuilder::new(&format!("https://localhost:{port}/"))
            .force_new(true)
            .reconnection(false)
            .connect(),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(
        matches!(&err, Error::Closed(CloseReason::TransportError(TransportError::Tls(m))) if m.contains("UnknownIssuer")),
        "{err:?}"
    );
}
