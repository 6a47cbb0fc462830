//! The data model templates run on, built from any `Serialize` value, and Go's
//! `fmt.Sprint` rendering of it.
//!
//! Serde structs keep their declared field order (`Struct`) because Go prints a
//! struct as its values in declaration order (`{v1 v2}`); serde maps become
//! `Map` (printed `map[k:v]`, sorted by key as Go's fmt does).

use std::collections::BTreeMap;

use serde::ser::{self, Serialize};

use super::FormatError;

/// A value a template can look at.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    /// A struct field the JSON omits (serde's `skip_serializing_if`, Go's `omitempty`): in
    /// a template it is the field's zero value, like `Nil`; `json` leaves it out.
    Omitted,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// Go's template truthiness: zero values and empty collections are false;
    /// a struct is always true.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil | Value::Omitted => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Uint(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Struct(_) => true,
        }
    }

    /// A Go-like type name for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil | Value::Omitted => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Struct(_) => "struct",
        }
    }

    /// Go's `fmt.Sprint` of this value.
    pub fn to_go_string(&self) -> String {
        let mut out = String::new();
        sprint_into(self, &mut out);
        out
    }
}

/// Appends Go's `%v` rendering of `v` to `out`.
pub(super) fn sprint_into(v: &Value, out: &mut String) {
    match v {
        Value::Nil | Value::Omitted => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&go_float(*f)),
        Value::String(s) => out.push_str(s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sprint_into(item, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                sprint_into(item, out);
            }
            out.push(']');
        }
        Value::Struct(fields) => {
            out.push('{');
            for (i, (_, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sprint_into(item, out);
            }
            out.push('}');
        }
    }
}

/// Go's `%v` for a float64: the shortest representation, in exponent form when
/// the decimal exponent is < -4 or >= 6, as strconv's 'g' with shortest
/// precision decides (`1e+06`, `123456`, `1.5`, `1e-05`).
pub(super) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{f:e}"); // shortest round-trip digits, e.g. "-1.5e6"
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        go_exponent(mant, exp)
    } else {
        format!("{f}")
    }
}

/// Formats `mant` and `exp` as Go does: `1.5e+06`, `1e-05` (at least two exponent digits).
pub(super) fn go_exponent(mant: &str, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.unsigned_abs())
}

/// Builds a [`Value`] from any serializable value.
pub fn to_value<T: Serialize + ?Sized>(v: &T) -> Result<Value, FormatError> {
    v.serialize(ValueSerializer)
}

impl ser::Error for FormatError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        FormatError::Value(msg.to_string())
    }
}

/// Turns a serialized map key into the string Go would print for it.
fn key_string(key: Value) -> Result<String, FormatError> {
    match key {
        Value::String(s) => Ok(s),
        Value::Bool(_) | Value::Int(_) | Value::Uint(_) | Value::Float(_) => Ok(key.to_go_string()),
        other => Err(FormatError::Value(format!(
            "map key of type {} is not supported",
            other.type_name()
        ))),
    }
}

struct ValueSerializer;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = FormatError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = VariantSeqSer;
    type SerializeMap = MapSer;
    type SerializeStruct = StructSer;
    type SerializeStructVariant = VariantStructSer;

    fn serialize_bool(self, v: bool) -> Result<Value, FormatError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, FormatError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, FormatError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, FormatError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, FormatError> {
        Ok(Value::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, FormatError> {
        Ok(Value::Uint(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, FormatError> {
        Ok(Value::Uint(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, FormatError> {
        Ok(Value::Uint(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, FormatError> {
        Ok(Value::Uint(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, FormatError> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, FormatError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, FormatError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, FormatError> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, FormatError> {
        Ok(Value::List(
            v.iter().map(|b| Value::Uint((*b).into())).collect(),
        ))
    }
    fn serialize_none(self) -> Result<Value, FormatError> {
        Ok(Value::Nil)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, FormatError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, FormatError> {
        Ok(Value::Nil)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, FormatError> {
        Ok(Value::Struct(Vec::new()))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, FormatError> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<Value, FormatError> {
        v.serialize(self)
    }
    // Data-carrying enum variants follow serde's externally tagged shape (as
    // `serde_json` shows them): a one-entry map from variant name to content.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, FormatError> {
        let inner = v.serialize(ValueSerializer)?;
        Ok(Value::Map(BTreeMap::from([(variant.to_owned(), inner)])))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, FormatError> {
        Ok(SeqSer(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, FormatError> {
        Ok(SeqSer(Vec::with_capacity(len)))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqSer, FormatError> {
        Ok(SeqSer(Vec::with_capacity(len)))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSeqSer, FormatError> {
        Ok(VariantSeqSer(variant, Vec::with_capacity(len)))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer, FormatError> {
        Ok(MapSer(BTreeMap::new(), None))
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<StructSer, FormatError> {
        Ok(StructSer(Vec::with_capacity(len)))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantStructSer, FormatError> {
        Ok(VariantStructSer(variant, Vec::with_capacity(len)))
    }
}

struct SeqSer(Vec<Value>);

impl ser::SerializeSeq for SeqSer {
    type Ok = Value;
    type Error = FormatError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), FormatError> {
        self.0.push(to_value(v)?);
        Ok(())
    }
    fn end(self) -> Result<Value, FormatError> {
        Ok(Value::List(self.0))
    }
}

impl ser::SerializeTuple for SeqSer {
    type Ok = Value;
    type Error = FormatError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), FormatError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, FormatError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Value;
    type Error = FormatError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), FormatError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, FormatError> {
        ser::SerializeSeq::end(self)
    }
}

struct VariantSeqSer(&'static str, Vec<Value>);

impl ser::SerializeTupleVariant for VariantSeqSer {
    type Ok = Value;
    type Error = FormatError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), FormatError> {
        self.1.push(to_value(v)?);
        Ok(())
    }
    fn end(self) -> Result<Value, FormatError> {
        Ok(Value::Map(BTreeMap::from([(
            self.0.to_owned(),
            Value::List(self.1),
        )])))
    }
}

struct MapSer(BTreeMap<String, Value>, Option<String>);

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = FormatError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), FormatError> {
        self.1 = Some(key_string(to_value(key)?)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), FormatError> {
        let key = self
            .1
            .take()
            .ok_or_else(|| FormatError::Value("map value serialized before its key".into()))?;
        self.0.insert(key, to_value(v)?);
        Ok(())
    }
    fn end(self) -> Result<Value, FormatError> {
        Ok(Value::Map(self.0))
    }
}

struct StructSer(Vec<(String, Value)>);

impl ser::SerializeStruct for StructSer {
    type Ok = Value;
    type Error = FormatError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), FormatError> {
        self.0.push((key.to_owned(), to_value(v)?));
        Ok(())
    }
    /// A field the JSON leaves out (`omitempty`) is still a field of the Go struct: there,
    /// with its zero value (a nil map, slice or pointer), so `{{.F}}` and `{{len .F}}` work.
    fn skip_field(&mut self, key: &'static str) -> Result<(), FormatError> {
        self.0.push((key.to_owned(), Value::Omitted));
        Ok(())
    }
    fn end(self) -> Result<Value, FormatError> {
        Ok(Value::Struct(self.0))
    }
}

struct VariantStructSer(&'static str, Vec<(String, Value)>);

impl ser::SerializeStructVariant for VariantStructSer {
    type Ok = Value;
    type Error = FormatError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), FormatError> {
        self.1.push((key.to_owned(), to_value(v)?));
        Ok(())
    }
    fn end(self) -> Result<Value, FormatError> {
        Ok(Value::Map(BTreeMap::from([(
            self.0.to_owned(),
            Value::Struct(self.1),
        )])))
    }
}

/// Back to JSON (for the `json` template function): structs keep field order.
impl Serialize for Value {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeMap;
        match self {
            Value::Nil | Value::Omitted => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Uint(u) => s.serialize_u64(*u),
            Value::Float(f) => s.serialize_f64(*f),
            Value::String(v) => s.serialize_str(v),
            Value::List(l) => s.collect_seq(l),
            Value::Map(m) => s.collect_map(m),
            Value::Struct(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields.iter().filter(|(_, v)| *v != Value::Omitted) {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::HashMap;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Binding {
        host_ip: String,
        host_port: String,
    }

    #[derive(Serialize)]
    struct Outer {
        #[serde(rename = "Id")]
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        gone: Option<u32>,
        maybe: Option<u32>,
        ports: HashMap<String, Vec<Binding>>,
        kind: Kind,
        tagged: Tagged,
        tup: (u8, f64),
    }

    #[derive(Serialize)]
    enum Kind {
        Bridge,
    }

    #[derive(Serialize)]
    enum Tagged {
        Port(u16),
    }

    #[test]
    fn serializer_maps_serde_shapes() {
        let v = to_value(&Outer {
            id: "abc".into(),
            gone: None,
            maybe: None,
            ports: HashMap::from([(
                "80/tcp".to_string(),
                vec![Binding {
                    host_ip: String::new(),
                    host_port: "8080".into(),
                }],
            )]),
            kind: Kind::Bridge,
            tagged: Tagged::Port(80),
            tup: (1, 2.5),
        })
        .unwrap();
        let Value::Struct(fields) = &v else {
            panic!("not a struct: {v:?}")
        };
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        // An omitted (skip_serializing_if) field stays, as the Go struct's zero value.
        assert_eq!(
            names,
            ["Id", "gone", "maybe", "ports", "kind", "tagged", "tup"]
        );
        assert_eq!(fields[1].1, Value::Omitted);
        assert_eq!(fields[2].1, Value::Nil);
        assert!(!serde_json::to_string(&v).unwrap().contains("gone"));
        assert_eq!(fields[4].1, Value::String("Bridge".into()));
        assert_eq!(
            v.to_go_string(),
            "{abc <nil> <nil> map[80/tcp:[{ 8080}]] Bridge map[Port:80] [1 2.5]}"
        );
    }

    #[test]
    fn go_float_printing() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(2.0), "2");
        assert_eq!(go_float(-0.5), "-0.5");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn truthiness_is_go_s() {
        assert!(!Value::Nil.is_true());
        assert!(!Value::String(String::new()).is_true());
        assert!(!Value::Int(0).is_true());
        assert!(!Value::List(vec![]).is_true());
        assert!(!Value::Map(BTreeMap::new()).is_true());
        assert!(Value::Struct(vec![]).is_true());
        assert!(Value::Float(0.1).is_true());
    }

    #[test]
    fn value_serializes_back_to_json_in_field_order() {
        let v = Value::Struct(vec![
            ("B".into(), Value::Int(1)),
            (
                "A".into(),
                Value::List(vec![Value::String("<x>".into()), Value::Nil]),
            ),
        ]);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"B":1,"A":["<x>",null]}"#
        );
    }
}
