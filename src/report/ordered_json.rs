//! JSON kept in the order it was written, for the parts of `summary.json` that a capability
//! above `report/` serializes (the scenario as it ran, the cache's figures): the capability
//! hands over its value as JSON, and `summary.json` prints it exactly as the capability's own
//! type would have, field order included. (`serde_json::Value` would sort the keys.)

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep their keys in the order they were written.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum OrderedJson {
    #[default]
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<OrderedJson>),
    Object(Vec<(String, OrderedJson)>),
}

impl OrderedJson {
    /// The JSON of `value`, as `serde_json` writes it.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> OrderedJson {
        serde_json::to_string(value)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// The field `key` of an object.
    pub fn get(&self, key: &str) -> Option<&OrderedJson> {
        match self {
            OrderedJson::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl Serialize for OrderedJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OrderedJson::Null => s.serialize_unit(),
            OrderedJson::Bool(b) => s.serialize_bool(*b),
            OrderedJson::Number(n) => n.serialize(s),
            OrderedJson::String(t) => s.serialize_str(t),
            OrderedJson::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            OrderedJson::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = OrderedJson;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }
    fn visit_none<E>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<OrderedJson, D::Error> {
        OrderedJson::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Bool(b))
    }
    fn visit_u64<E>(self, n: u64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(n.into()))
    }
    fn visit_i64<E>(self, n: i64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<OrderedJson, E> {
        Ok(serde_json::Number::from_f64(n).map_or(OrderedJson::Null, OrderedJson::Number))
    }
    fn visit_str<E>(self, t: &str) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(t.to_string()))
    }
    fn visit_string<E>(self, t: String) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(t))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OrderedJson, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(OrderedJson::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedJson, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, OrderedJson>()? {
            fields.push((k, v));
        }
        Ok(OrderedJson::Object(fields))
    }
}

impl<'de> Deserialize<'de> for OrderedJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OrderedJson, D::Error> {
        d.deserialize_any(OrderedVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Sample {
        zebra: u32,
        apple: Vec<f64>,
        middle: Option<&'static str>,
        nested: Nested,
    }

    #[derive(serde::Serialize)]
    struct Nested {
        z: bool,
        a: i64,
    }

    #[test]
    fn prints_exactly_what_the_original_type_prints() {
        let v = Sample {
            zebra: 7,
            apple: vec![0.1, 1e-7, 2.5, 1e300],
            middle: None,
            nested: Nested { z: true, a: -3 },
        };
        let ordered = OrderedJson::of(&v);
        assert_eq!(
            serde_json::to_string_pretty(&ordered).unwrap(),
            serde_json::to_string_pretty(&v).unwrap()
        );
        assert_eq!(ordered.get("zebra"), Some(&OrderedJson::Number(7.into())));
    }
}
