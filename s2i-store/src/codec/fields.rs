//! Fields of a document that its kind does not have, found while the
//! document is typed — kubectl's `--validate=strict|warn|ignore` — and the
//! parts of an input that a server owns, which are skipped unread.
//!
//! A kind's types accept any field (they do not deny unknown ones); this
//! module wraps the deserializer a document is typed with and sees every
//! value a type skips (serde asks for those with `deserialize_ignored_any`),
//! with its path (`spec.triggers[0].foo`). [`FieldValidation`] says what
//! becomes of them: an error naming each, a list of warnings, or nothing.
//!
//! What a server owns in an object (its `status`, and the metadata it adds:
//! `managedFields`, `selfLink`, `deletionTimestamp`,
//! `deletionGracePeriodSeconds`) is skipped before the type sees it, so an
//! object as `kubectl get -o yaml` prints it applies, whatever its status
//! holds, as on a cluster, where the status of a request is dropped too.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::str::FromStr;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// How fields that a document's kind does not have are treated, as
/// `kubectl apply --validate` treats them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FieldValidation {
    /// Unknown fields are an error, which names each (the default, kubectl's too).
    #[default]
    Strict,
    /// Unknown fields are dropped and reported ([`UnknownFields`]).
    Warn,
    /// Unknown fields are dropped silently.
    Ignore,
}

impl FieldValidation {
    /// As kubectl spells it: `strict`, `warn` or `ignore`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Warn => "warn",
            Self::Ignore => "ignore",
        }
    }
}

impl fmt::Display for FieldValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FieldValidation {
    type Err = String;

    /// `strict`, `warn` or `ignore`; kubectl's older `true` (strict) and `false` (ignore) too.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "strict" | "true" => Ok(Self::Strict),
            "warn" => Ok(Self::Warn),
            "ignore" | "false" => Ok(Self::Ignore),
            other => Err(format!("invalid value {other:?}: the values are strict, warn and ignore")),
        }
    }
}

/// The paths (`spec.foo`, `spec.triggers[0].bar`) of the fields a document
/// had that its kind does not, in the order they were met. A handle: clones
/// share the list, so a caller can keep one while the document is decoded
/// elsewhere.
#[derive(Debug, Clone, Default)]
pub struct UnknownFields(Rc<RefCell<Vec<String>>>);

impl UnknownFields {
    /// The paths found so far, leaving the list empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.borrow_mut())
    }

    fn push(&self, path: String) {
        self.0.borrow_mut().push(path);
    }
}

/// Paths of an input that its server owns: skipped unread.
const SERVER_OWNED: [&str; 5] = [
    "status",
    "metadata.managedFields",
    "metadata.selfLink",
    "metadata.deletionTimestamp",
    "metadata.deletionGracePeriodSeconds",
];

/// What a typing found, shared by every wrapper of one document.
pub(crate) struct Tracker {
    validation: FieldValidation,
    /// What the kind's server also owns (an `ImageStreamTag`'s `image`).
    owned: &'static [&'static str],
    found: UnknownFields,
    /// In strict mode: the unknown fields met, which fail the typing.
    refused: RefCell<Vec<String>>,
    /// In strict mode: end the typing at the first unknown field, an error
    /// of the parser, which knows where it is; otherwise skip each, so that
    /// the typing goes on and finds them all.
    stop_at_first: bool,
}

impl Tracker {
    pub(crate) fn new(validation: FieldValidation, found: UnknownFields, owned: &'static [&'static str]) -> Self {
        Self { validation, owned, found, refused: RefCell::default(), stop_at_first: false }
    }

    /// A strict tracker whose first unknown field ends the typing with an error.
    pub(crate) fn stopping_at_first(owned: &'static [&'static str]) -> Self {
        Self { stop_at_first: true, ..Self::new(FieldValidation::Strict, UnknownFields::default(), owned) }
    }

    fn server_owned(&self, path: &str) -> bool {
        SERVER_OWNED.contains(&path) || self.owned.contains(&path)
    }

    /// The unknown fields a strict typing met, in the order met.
    pub(crate) fn refused(&self) -> Vec<String> {
        self.refused.borrow().clone()
    }

    fn unknown<E: de::Error>(&self, path: &str) -> Result<(), E> {
        match self.validation {
            FieldValidation::Strict => {
                self.refused.borrow_mut().push(path.to_owned());
                if self.stop_at_first { Err(E::custom(unknown_field_message(path))) } else { Ok(()) }
            }
            FieldValidation::Warn => {
                self.found.push(path.to_owned());
                Ok(())
            }
            FieldValidation::Ignore => Ok(()),
        }
    }
}

/// How an unknown field is worded, as the API server words it.
pub(crate) fn unknown_field_message(path: &str) -> String {
    format!("unknown field \"{path}\"")
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// Type `T` from `deserializer`, watched by `tracker`.
pub(crate) fn deserialize<'de, T: de::Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
    tracker: &Tracker,
) -> Result<T, D::Error> {
    T::deserialize(Watched { inner: deserializer, path: String::new(), tracker })
}

/// A deserializer that knows where in the document it is.
struct Watched<'t, D> {
    inner: D,
    path: String,
    tracker: &'t Tracker,
}

impl<'t, D> Watched<'t, D> {
    fn visitor<V>(&self, visitor: V) -> WatchedVisitor<'t, V> {
        WatchedVisitor { inner: visitor, path: self.path.clone(), tracker: self.tracker }
    }
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                let visitor = self.visitor(visitor);
                self.inner.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Watched<'_, D> {
    type Error = D::Error;

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }

    /// A value its type skips: a field the kind does not have.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.tracker.unknown::<D::Error>(&self.path)?;
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

struct WatchedVisitor<'t, V> {
    inner: V,
    path: String,
    tracker: &'t Tracker,
}

macro_rules! pass {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, value: $ty) -> Result<Self::Value, E> {
                self.inner.$method(value)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for WatchedVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(formatter)
    }

    pass! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Watched { inner: deserializer, path: self.path, tracker: self.tracker })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Watched { inner: deserializer, path: self.path, tracker: self.tracker })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(WatchedSeq { inner: seq, path: self.path, index: 0, tracker: self.tracker })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(WatchedMap { inner: map, path: self.path, key: None, tracker: self.tracker })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        // The kinds' enumerations are names; nothing below them to watch.
        self.inner.visit_enum(data)
    }
}

struct WatchedSeq<'t, A> {
    inner: A,
    path: String,
    index: usize,
    tracker: &'t Tracker,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for WatchedSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Self::Error> {
        let path = format!("{}[{}]", self.path, self.index);
        self.index += 1;
        self.inner.next_element_seed(WatchedSeed { inner: seed, path, tracker: self.tracker })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct WatchedMap<'t, A> {
    inner: A,
    path: String,
    key: Option<String>,
    tracker: &'t Tracker,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WatchedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        // The key is typed by the parser itself (so that its errors point at
        // it); its text is caught on the way, for the path.
        let slot = RefCell::new(None);
        let key = self.inner.next_key_seed(KeySeed { inner: seed, slot: &slot })?;
        let name = slot.into_inner().unwrap_or_else(|| "?".to_owned());
        self.key = Some(child(&self.path, &name));
        Ok(key)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Self::Error> {
        let path = self.key.take().unwrap_or_else(|| self.path.clone());
        if self.tracker.server_owned(&path) {
            // Skipped unread; the field gets what an empty object gives it (its defaults).
            self.inner.next_value::<IgnoredAny>()?;
            return seed.deserialize(Absent(std::marker::PhantomData));
        }
        self.inner.next_value_seed(WatchedSeed { inner: seed, path, tracker: self.tracker })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// What a skipped field is typed from: nothing (`None`), an empty list,
/// text or object (a status whose fields all have defaults).
struct Absent<E>(std::marker::PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for Absent<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_none()
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_seq(de::value::SeqDeserializer::new(std::iter::empty::<String>()))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_map(de::value::MapDeserializer::new(std::iter::empty::<(String, String)>()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        self.deserialize_map(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_str("")
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit unit_struct
        newtype_struct tuple tuple_struct enum identifier ignored_any
    }
}

/// A key's seed that catches the key's text.
struct KeySeed<'s, K> {
    inner: K,
    slot: &'s RefCell<Option<String>>,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.deserialize(KeyText { inner: deserializer, slot: self.slot })
    }
}

/// A key's deserializer that catches its text.
struct KeyText<'s, D> {
    inner: D,
    slot: &'s RefCell<Option<String>>,
}

impl<'s, D> KeyText<'s, D> {
    fn visitor<V>(&self, visitor: V) -> KeyVisitor<'s, V> {
        KeyVisitor { inner: visitor, slot: self.slot }
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyText<'_, D> {
    type Error = D::Error;

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

struct KeyVisitor<'s, V> {
    inner: V,
    slot: &'s RefCell<Option<String>>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(formatter)
    }

    pass! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        *self.slot.borrow_mut() = Some(value.to_owned());
        self.inner.visit_str(value)
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        *self.slot.borrow_mut() = Some(value.to_owned());
        self.inner.visit_borrowed_str(value)
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        *self.slot.borrow_mut() = Some(value.clone());
        self.inner.visit_string(value)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(map)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

struct WatchedSeed<'t, S> {
    inner: S,
    path: String,
    tracker: &'t Tracker,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for WatchedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.deserialize(Watched { inner: deserializer, path: self.path, tracker: self.tracker })
    }
}

/// Where the key named last in `path` is written in `text`, searching from
/// `from` (the start of the mapping that holds it): its byte offset, if found.
pub(crate) fn find_key(text: &str, from: usize, path: &str) -> Option<usize> {
    let key = path.rsplit('.').next()?.split('[').next()?;
    if key.is_empty() {
        return None;
    }
    let rest = text.get(from..)?;
    let mut search = 0;
    while let Some(found) = rest[search..].find(key) {
        let at = search + found;
        let before = rest[..at].chars().next_back();
        let quoted = matches!(before, Some('"' | '\''));
        let start_ok = match before {
            None => true,
            Some(c) => c.is_whitespace() || matches!(c, '{' | ',' | '-' | '"' | '\''),
        };
        let mut after = rest[at + key.len()..].chars();
        let mut next = after.next();
        if quoted && matches!(next, Some('"' | '\'')) {
            next = after.next();
        }
        while next == Some(' ') {
            next = after.next();
        }
        if start_ok && next == Some(':') {
            return Some(from + at - usize::from(quoted));
        }
        search = at + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_spelled_as_kubectl_spells_them() {
        for (text, mode) in [
            ("strict", FieldValidation::Strict),
            ("warn", FieldValidation::Warn),
            ("ignore", FieldValidation::Ignore),
            ("true", FieldValidation::Strict),
            ("false", FieldValidation::Ignore),
        ] {
            assert_eq!(text.parse::<FieldValidation>(), Ok(mode));
        }
        assert!("loose".parse::<FieldValidation>().unwrap_err().contains("strict, warn and ignore"));
        assert_eq!(FieldValidation::default().to_string(), "strict");
    }

    #[test]
    fn keys_are_found_where_they_are_written() {
        let text = "a:\n  b: 1\n  foo: 2\nc: {\"foo\": 3}\n";
        assert_eq!(find_key(text, 0, "a.foo"), Some(12));
        assert_eq!(find_key(text, 20, "c.foo"), Some(23), "a quoted key starts at its quote");
        assert_eq!(find_key(text, 0, "a.missing"), None);
        assert_eq!(find_key("xfoo: 1\nfoo: 2\n", 0, "foo"), Some(8), "a key is a whole word");
    }
}
