//! Create, update and apply with a kind's rules, the way an API server does:
//! the generic part (existence, `resourceVersion` conflicts, store-owned
//! metadata, "unchanged" detection) here, the kind's part in a [`Strategy`].

use super::Tx;
use super::tx::typed_body;
use crate::error::{Error, Result};
use crate::resource::{Resource, WriteAction};

/// A kind's rules for writes, as an API server's create and update
/// strategies have them. Every method has a default that imposes nothing,
/// so [`NoRules`] is a kind without rules.
pub trait Strategy<T: Resource> {
    /// The error of the rules; it holds the store's errors.
    type Error: From<Error>;

    /// Prepare a new object before it is stored: clear what clients may not
    /// set (a status), set defaults and generated values, validate.
    fn prepare_create(&self, tx: &Tx<'_>, object: &mut T) -> Result<(), Self::Error> {
        let _ = (tx, object);
        Ok(())
    }

    /// Prepare an update of `old` to `object` before it is stored: carry over
    /// what an update may not change, bump a generation, validate. The store
    /// then keeps `uid` and `creationTimestamp` of `old` whatever `object` says.
    fn prepare_update(&self, tx: &Tx<'_>, object: &mut T, old: &T) -> Result<(), Self::Error> {
        let _ = (tx, object, old);
        Ok(())
    }

    /// Whether the prepared `object` asks for nothing `old` does not have
    /// (then nothing is written). By default: the same document, as it
    /// would be stored (with the kind's `apiVersion` and `kind`).
    fn unchanged(&self, object: &T, old: &T) -> bool {
        match (typed_body(object), typed_body(old)) {
            (Ok((_, _, object)), Ok((_, _, old))) => object == old,
            _ => false,
        }
    }
}

/// The strategy of a kind without rules of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRules;

impl<T: Resource> Strategy<T> for NoRules {
    type Error = Error;
}

impl Tx<'_> {
    /// Create `object` after `strategy` prepared it; fails with
    /// [`Error::AlreadyExists`] when it exists. Returns it as stored.
    pub fn create_with<T: Resource, S: Strategy<T>>(&self, mut object: T, strategy: &S) -> Result<T, S::Error> {
        strategy.prepare_create(self, &mut object)?;
        Ok(self.create_as(&object)?)
    }

    /// Update a stored object with `strategy`'s rules:
    ///
    /// 1. the object must exist ([`Error::NotFound`]);
    /// 2. a `metadata.resourceVersion` in `object` must be the stored one
    ///    ([`Error::Conflict`]); an empty one means "whatever is stored";
    /// 3. [`Strategy::prepare_update`] runs; `uid`, `creationTimestamp` and
    ///    `resourceVersion` are then those of the stored object;
    /// 4. when [`Strategy::unchanged`] says so, nothing is written
    ///    ([`WriteAction::Unchanged`], with the stored object); else the
    ///    object is written ([`WriteAction::Configured`]).
    pub fn update_with<T: Resource, S: Strategy<T>>(
        &self,
        mut object: T,
        strategy: &S,
    ) -> Result<(T, WriteAction), S::Error> {
        let (namespace, name) = (object.metadata().namespace.clone(), object.metadata().name.clone());
        let Some(old) = self.get_as::<T>(&namespace, &name)? else {
            return Err(
                Error::NotFound { kind: T::KIND.into(), namespace, name, help: "create it first".into() }.into()
            );
        };
        let sent = &object.metadata().resource_version;
        if !sent.is_empty() && *sent != old.metadata().resource_version {
            return Err(Error::Conflict {
                kind: T::KIND.into(),
                namespace,
                name,
                expected: sent.clone(),
                actual: old.metadata().resource_version.parse().unwrap_or_default(),
            }
            .into());
        }
        strategy.prepare_update(self, &mut object, &old)?;
        let (kept, meta) = (old.metadata(), object.metadata_mut());
        meta.uid = kept.uid.clone();
        meta.creation_timestamp = kept.creation_timestamp;
        meta.resource_version = kept.resource_version.clone();
        if strategy.unchanged(&object, &old) {
            return Ok((old, WriteAction::Unchanged));
        }
        Ok((self.update_as(&object)?, WriteAction::Configured))
    }

    /// Create `object`, or update it when it exists — `kubectl apply`'s
    /// create-or-update, with `strategy`'s rules for each (see
    /// [`Tx::create_with`] and [`Tx::update_with`]).
    pub fn apply_with<T: Resource, S: Strategy<T>>(
        &self,
        object: T,
        strategy: &S,
    ) -> Result<(T, WriteAction), S::Error> {
        let meta = object.metadata();
        if self.get(T::KIND, &meta.namespace, &meta.name)?.is_some() {
            self.update_with(object, strategy)
        } else {
            Ok((self.create_with(object, strategy)?, WriteAction::Created))
        }
    }
}
