//! Events through the facade: every store hands out subscriptions, and the global stores' events
//! carry their namespace.

use kvstore::{AnyStore, EventHub, EventKind, Store, Subscribe};

#[test]
fn namespace_events_carry_the_namespace() {
    let _global = crate::global_stores();
    let ns = "events-test/pipeline/node";
    let store = kvstore::namespace(ns);
    assert_eq!(store.namespace(), ns);
    let events = store.subscribe();
    store.put("k", 1_u32);
    assert!(kvstore::namespace(ns).del("k")); // the same store, looked up again
    let seen: Vec<_> = events
        .try_iter()
        .map(|e| (e.kind, e.key, e.namespace.to_string()))
        .collect();
    assert_eq!(
        seen,
        [
            (EventKind::Inserted, "k".to_string(), ns.to_string()),
            (EventKind::Removed, "k".to_string(), ns.to_string()),
        ]
    );
}

#[test]
fn the_default_store_events_carry_an_empty_namespace() {
    let _global = crate::global_stores();
    let store = AnyStore::new();
    let events = store.subscribe();
    assert_eq!(store.get::<u32>("absent"), None);
    let miss = events.try_recv().unwrap();
    assert_eq!((miss.kind, &*miss.namespace), (EventKind::Miss, ""));
    assert_eq!(kvstore::default().namespace(), "");
}

#[test]
fn a_typed_store_subscribes_and_can_be_named() {
    let plain: Store<String, u64> = Store::new();
    let events = plain.subscribe();
    plain.put("a".into(), 1);
    assert_eq!(events.try_recv().unwrap().kind, EventKind::Inserted);

    let named: Store<String, u64> = Store::builder().listener(EventHub::new("jobs")).build();
    let events = named.subscribe_with_buffer(4);
    named.put("a".into(), 1);
    assert_eq!(&*events.try_recv().unwrap().namespace, "jobs");
}

#[test]
fn different_namespaces_do_not_see_each_other() {
    let _global = crate::global_stores();
    let a = kvstore::namespace("events-test/a");
    let b = kvstore::namespace("events-test/b");
    let from_a = a.subscribe();
    b.put("k", 1_u8);
    assert!(from_a.try_recv().is_err());
}
