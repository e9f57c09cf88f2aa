//! [`Namespaces`]: the namespaces of a server by name, and the dynamic namespaces whose
//! children are created on their first connection.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};

use crate::adapter::{AdapterFactory, LocalAdapter};
use crate::config::Parser;
use crate::namespace::{Namespace, NamespaceParts, OnEmpty};

type Matcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// `chat` → `/chat`.
pub(crate) fn normalize(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

pub(crate) struct Namespaces {
    map: RwLock<HashMap<String, Namespace>>,
    dynamic: RwLock<Vec<(Matcher, Namespace)>>,
    adapter: AdapterFactory,
    parser: Parser,
    cleanup_empty_children: bool,
    /// The server, handed to each namespace.
    server: Weak<dyn Any + Send + Sync>,
    /// Itself, for the cleanup callback of dynamic children.
    me: Weak<Namespaces>,
}

impl Namespaces {
    pub(crate) fn new(
        server: Weak<dyn Any + Send + Sync>,
        adapter: AdapterFactory,
        parser: Parser,
        cleanup_empty_children: bool,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Namespaces {
            map: RwLock::default(),
            dynamic: RwLock::default(),
            adapter,
            parser,
            cleanup_empty_children,
            server,
            me: me.clone(),
        })
    }

    fn parts(&self, name: &str, on_empty: Option<OnEmpty>) -> NamespaceParts {
        NamespaceParts {
            server: self.server.clone(),
            parser: self.parser,
            adapter: (self.adapter)(name),
            on_empty,
        }
    }

    /// The namespace `name` (normalized), created if it does not exist.
    pub(crate) fn of(&self, name: &str) -> Namespace {
        let name = normalize(name);
        if let Some(ns) = read(&self.map).get(&name) {
            return ns.clone();
        }
        write(&self.map)
            .entry(name.clone())
            .or_insert_with(|| Namespace::new(&name, self.parts(&name, None)))
            .clone()
    }

    /// A dynamic namespace: names `accept` takes become its children.
    pub(crate) fn add_dynamic(&self, accept: Matcher) -> Namespace {
        let parts = NamespaceParts {
            server: self.server.clone(),
            parser: self.parser,
            adapter: Arc::new(LocalAdapter),
            on_empty: None,
        };
        let parent = Namespace::new_parent("/_dynamic", parts);
        write(&self.dynamic).push((accept, parent.clone()));
        parent
    }

    pub(crate) fn all(&self) -> Vec<Namespace> {
        read(&self.map).values().cloned().collect()
    }

    /// The namespace a CONNECT to `name` joins: an existing one, or a new child of the
    /// first dynamic namespace whose matcher accepts the name.
    pub(crate) fn for_connection(&self, name: &str) -> Option<Namespace> {
        if let Some(ns) = read(&self.map).get(name) {
            return Some(ns.clone());
        }
        let parent = read(&self.dynamic)
            .iter()
            .find(|(m, _)| m(name))
            .map(|(_, p)| p.clone())?;
        let on_empty: Option<OnEmpty> = self.cleanup_empty_children.then(|| {
            let registry = self.me.clone();
            let on_empty: OnEmpty = Arc::new(move |ns: &Namespace| {
                if let Some(r) = registry.upgrade() {
                    r.remove_if_empty(ns);
                }
            });
            on_empty
        });
        let mut map = write(&self.map);
        let ns = map
            .entry(name.to_owned())
            .or_insert_with(|| parent.new_child(name, self.parts(name, on_empty)))
            .clone();
        Some(ns)
    }

    fn remove_if_empty(&self, ns: &Namespace) {
        let mut map = write(&self.map);
        if map
            .get(ns.name())
            .is_some_and(|n| Arc::ptr_eq(&n.0, &ns.0) && n.is_empty())
        {
            map.remove(ns.name());
        }
    }
}
