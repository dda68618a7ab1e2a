//! The store trait for async code: [`AsyncBackend`] has [`Backend`]'s operations, options and
//! error shape, each returning a `Send` future, so a tokio (or any other executor's) task awaits a
//! remote store instead of blocking its worker thread on a round trip.
//!
//! The futures are boxed ([`BoxFuture`]): that keeps the trait object safe, so a program picks its
//! backend at run time as `Box<DynAsyncBackend<..>>` exactly as it does with [`DynBackend`](crate::DynBackend),
//! and it needs no runtime or helper crate (plain [`std::future::Future`]). A return-position
//! `impl Future` would save one allocation per call but make `dyn AsyncBackend` impossible; next
//! to a network round trip the allocation does not show.
//!
//! Every in-memory backend (a [`Backend`] whose error is [`Infallible`], such as the facade's
//! `Store`) is an `AsyncBackend` too, with futures that are ready at once: code written against
//! the async trait runs on the in-memory store in tests and on Redis in production. A fallible
//! sync backend (the sync Redis store) is deliberately not one, as its calls would block the
//! executor; Redis has its own async stores.

use std::convert::Infallible;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;

use crate::{Backend, BoxError, Boxed, Dump, Metrics};

/// A boxed, `Send` future: what every [`AsyncBackend`] method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Backend`]'s operations as `Send` futures: same names, arguments, options, results and
/// errors; each method's documentation is [`Backend`]'s.
///
/// ```
/// use kv_core::AsyncBackend;
///
/// /// Issues a one-shot token on any backend, in memory or remote.
/// async fn issue<B>(store: &B, token: String, user: String) -> Result<(), B::Error>
/// where
///     B: AsyncBackend<Key = String, Value = String>,
/// {
///     store.put(token, user, &B::Options::default()).await
/// }
/// ```
pub trait AsyncBackend: Send + Sync {
    /// The key type.
    type Key: Send + Sync;
    /// The value type.
    type Value: Send;
    /// What a `put` can say about its entry beyond key and value: see [`Backend::Options`].
    type Options: Default + Sync;
    /// What can go wrong: [`Infallible`] for the in-memory store.
    type Error: Error + Send + Sync + 'static;

    /// See [`Backend::put`].
    fn put<'a>(
        &'a self,
        key: Self::Key,
        value: Self::Value,
        options: &'a Self::Options,
    ) -> BoxFuture<'a, Result<(), Self::Error>>;
    /// See [`Backend::get`].
    fn get<'a>(
        &'a self,
        key: &'a Self::Key,
    ) -> BoxFuture<'a, Result<Option<Self::Value>, Self::Error>>;
    /// See [`Backend::has`].
    fn has<'a>(&'a self, key: &'a Self::Key) -> BoxFuture<'a, Result<bool, Self::Error>>;
    /// See [`Backend::del`].
    fn del<'a>(&'a self, key: &'a Self::Key) -> BoxFuture<'a, Result<bool, Self::Error>>;
    /// See [`Backend::get_or_insert`].
    fn get_or_insert<'a>(
        &'a self,
        key: Self::Key,
        value: Self::Value,
        options: &'a Self::Options,
    ) -> BoxFuture<'a, Result<Self::Value, Self::Error>>;
    /// See [`Backend::remove`].
    fn remove<'a>(
        &'a self,
        key: &'a Self::Key,
    ) -> BoxFuture<'a, Result<Option<Self::Value>, Self::Error>>;
    /// See [`Backend::remove_prefix`].
    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<usize, Self::Error>>
    where
        Self::Key: AsRef<str>;
    /// See [`Backend::keys`].
    fn keys(&self) -> BoxFuture<'_, Result<Vec<Self::Key>, Self::Error>>;
    /// See [`Backend::metrics`].
    fn metrics(&self) -> BoxFuture<'_, Result<Metrics, Self::Error>>;
    /// See [`Backend::purge_expired`].
    fn purge_expired(&self) -> BoxFuture<'_, Result<usize, Self::Error>>;
    /// See [`Backend::capacity`].
    fn capacity(&self) -> BoxFuture<'_, Result<usize, Self::Error>>;
    /// See [`Backend::set_capacity`].
    fn set_capacity(&self, capacity: usize) -> BoxFuture<'_, Result<(), Self::Error>>;
    /// See [`Backend::clear`].
    fn clear(&self) -> BoxFuture<'_, Result<(), Self::Error>>;
    /// See [`Backend::dump`].
    fn dump(&self) -> BoxFuture<'_, Result<Dump<Self::Key>, Self::Error>>;
}

/// Any async backend of these keys, values and options, its errors boxed: what a program that
/// picks its backend at run time holds (`Box<DynAsyncBackend<..>>`). Wrap a backend with
/// [`Boxed`] to get one.
///
/// ```
/// use kv_core::{AsyncBackend, Boxed, DynAsyncBackend};
///
/// fn open<B>(backend: B) -> Box<DynAsyncBackend<String, u64, B::Options>>
/// where
///     B: AsyncBackend<Key = String, Value = u64> + 'static,
/// {
///     Box::new(Boxed(backend))
/// }
/// ```
pub type DynAsyncBackend<K, V, O> =
    dyn AsyncBackend<Key = K, Value = V, Options = O, Error = BoxError>;

/// A future that is ready at once with `value`.
fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

/// The in-memory backends: every call runs to the end before the future is returned, which is
/// then ready (the in-memory store never waits on anything but its own short critical sections).
impl<B> AsyncBackend for B
where
    B: Backend<Error = Infallible> + Send + Sync,
    B::Key: Send + Sync,
    B::Value: Send,
    B::Options: Sync,
{
    type Key = B::Key;
    type Value = B::Value;
    type Options = B::Options;
    type Error = Infallible;

    fn put<'a>(
        &'a self,
        key: B::Key,
        value: B::Value,
        options: &'a B::Options,
    ) -> BoxFuture<'a, Result<(), Infallible>> {
        ready(Backend::put(self, key, value, options))
    }
    fn get<'a>(&'a self, key: &'a B::Key) -> BoxFuture<'a, Result<Option<B::Value>, Infallible>> {
        ready(Backend::get(self, key))
    }
    fn has<'a>(&'a self, key: &'a B::Key) -> BoxFuture<'a, Result<bool, Infallible>> {
        ready(Backend::has(self, key))
    }
    fn del<'a>(&'a self, key: &'a B::Key) -> BoxFuture<'a, Result<bool, Infallible>> {
        ready(Backend::del(self, key))
    }
    fn get_or_insert<'a>(
        &'a self,
        key: B::Key,
        value: B::Value,
        options: &'a B::Options,
    ) -> BoxFuture<'a, Result<B::Value, Infallible>> {
        ready(Backend::get_or_insert(self, key, value, options))
    }
    fn remove<'a>(
        &'a self,
        key: &'a B::Key,
    ) -> BoxFuture<'a, Result<Option<B::Value>, Infallible>> {
        ready(Backend::remove(self, key))
    }
    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<usize, Infallible>>
    where
        B::Key: AsRef<str>,
    {
        ready(Backend::remove_prefix(self, prefix))
    }
    fn keys(&self) -> BoxFuture<'_, Result<Vec<B::Key>, Infallible>> {
        ready(Backend::keys(self))
    }
    fn metrics(&self) -> BoxFuture<'_, Result<Metrics, Infallible>> {
        ready(Backend::metrics(self))
    }
    fn purge_expired(&self) -> BoxFuture<'_, Result<usize, Infallible>> {
        ready(Backend::purge_expired(self))
    }
    fn capacity(&self) -> BoxFuture<'_, Result<usize, Infallible>> {
        ready(Backend::capacity(self))
    }
    fn set_capacity(&self, capacity: usize) -> BoxFuture<'_, Result<(), Infallible>> {
        ready(Backend::set_capacity(self, capacity))
    }
    fn clear(&self) -> BoxFuture<'_, Result<(), Infallible>> {
        ready(Backend::clear(self))
    }
    fn dump(&self) -> BoxFuture<'_, Result<Dump<B::Key>, Infallible>> {
        ready(Backend::dump(self))
    }
}

/// Boxes the errors of `fut`'s result.
fn boxed<'a, T: 'a, E: Error + Send + Sync + 'static>(
    fut: BoxFuture<'a, Result<T, E>>,
) -> BoxFuture<'a, Result<T, BoxError>> {
    Box::pin(async move { fut.await.map_err(BoxError::new) })
}

/// An async backend whose errors are boxed, so backends with different error types fit one
/// [`DynAsyncBackend`].
impl<B: AsyncBackend> AsyncBackend for Boxed<B>
where
    B::Key: 'static,
    B::Value: 'static,
{
    type Key = B::Key;
    type Value = B::Value;
    type Options = B::Options;
    type Error = BoxError;

    fn put<'a>(
        &'a self,
        key: B::Key,
        value: B::Value,
        options: &'a B::Options,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        boxed(self.0.put(key, value, options))
    }
    fn get<'a>(&'a self, key: &'a B::Key) -> BoxFuture<'a, Result<Option<B::Value>, BoxError>> {
        boxed(self.0.get(key))
    }
    fn has<'a>(&'a self, key: &'a B::Key) -> BoxFuture<'a, Result<bool, BoxError>> {
        boxed(self.0.has(key))
    }
    fn del<'a>(&'a self, key: &'a B::Key) -> BoxFuture<'a, Result<bool, BoxError>> {
        boxed(self.0.del(key))
    }
    fn get_or_insert<'a>(
        &'a self,
        key: B::Key,
        value: B::Value,
        options: &'a B::Options,
    ) -> BoxFuture<'a, Result<B::Value, BoxError>> {
        boxed(self.0.get_or_insert(key, value, options))
    }
    fn remove<'a>(&'a self, key: &'a B::Key) -> BoxFuture<'a, Result<Option<B::Value>, BoxError>> {
        boxed(self.0.remove(key))
    }
    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<usize, BoxError>>
    where
        B::Key: AsRef<str>,
    {
        boxed(self.0.remove_prefix(prefix))
    }
    fn keys(&self) -> BoxFuture<'_, Result<Vec<B::Key>, BoxError>> {
        boxed(self.0.keys())
    }
    fn metrics(&self) -> BoxFuture<'_, Result<Metrics, BoxError>> {
        boxed(self.0.metrics())
    }
    fn purge_expired(&self) -> BoxFuture<'_, Result<usize, BoxError>> {
        boxed(self.0.purge_expired())
    }
    fn capacity(&self) -> BoxFuture<'_, Result<usize, BoxError>> {
        boxed(self.0.capacity())
    }
    fn set_capacity(&self, capacity: usize) -> BoxFuture<'_, Result<(), BoxError>> {
        boxed(self.0.set_capacity(capacity))
    }
    fn clear(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        boxed(self.0.clear())
    }
    fn dump(&self) -> BoxFuture<'_, Result<Dump<B::Key>, BoxError>> {
        boxed(self.0.dump())
    }
}
