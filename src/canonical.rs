//! The comparison form of JSON values: object keys sorted and numbers compared
//! by value, so that `{"a":1,"b":10}` and `{"b":10.0,"a":1}` are equal.
//!
//! Array order is kept, because it carries meaning in most APIs.

use serde_json::{Map, Number, Value};

/// Returns `value` with sorted object keys and every integral float written as
/// an integer.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let sorted: Map<String, Value> = keys
                .into_iter()
                .map(|key| (key.clone(), canonical(&map[key])))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Number(number) => Value::Number(canonical_number(number)),
        other => other.clone(),
    }
}

/// Writes an integral float (`10.0`, `1e2`, `-0.0`) as the integer it equals.
fn canonical_number(number: &Number) -> Number {
    if number.is_i64() || number.is_u64() {
        return number.clone();
    }
    let Some(float) = number.as_f64() else {
        return number.clone();
    };
    // Only floats whose integer value is exact in both forms are converted:
    // within ±2^53 every integer is a distinct f64.
    const EXACT_LIMIT: f64 = 9_007_199_254_740_992.0;
    if float.fract() == 0.0 && float.abs() <= EXACT_LIMIT {
        Number::from(float as i64)
    } else {
        number.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        let a: Value = serde_json::from_str(r#"{"n": 10, "m": -0.0, "e": 1e2}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"n": 10.0, "m": 0, "e": 100}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
    }

    #[test]
    fn fractions_stay_distinct() {
        assert_ne!(canonical(&json!(1.5)), canonical(&json!(1)));
    }

    #[test]
    fn keys_are_sorted() {
        let value = canonical(&json!({"b": 1, "a": {"z": 1, "y": 2}}));
        assert_eq!(value.to_string(), r#"{"a":{"y":2,"z":1},"b":1}"#);
    }

    #[test]
    fn array_order_matters() {
        assert_ne!(canonical(&json!([1, 2])), canonical(&json!([2, 1])));
    }
}
