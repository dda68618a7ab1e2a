//! UTC timestamps at millisecond precision, written the one way the wire forms allow:
//! `2025-09-29T19:50:12.345Z`.
//!
//! Formatted here rather than with `chrono` or `time`: one fixed format needs thirty lines of
//! calendar arithmetic, not a date library in every tool that reads a store's counters.

#[cfg(feature = "schema")]
use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "schema")]
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

/// The latest instant the four-digit year of the format can hold: 9999-12-31T23:59:59.999Z.
const MAX_MILLIS: u64 = 253_402_300_799_999;

/// The pattern every wire timestamp matches.
pub const TIMESTAMP_PATTERN: &str =
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$";

/// An instant in UTC, at millisecond precision, as the wire forms carry it.
///
/// ```
/// use kv_metrics::Timestamp;
///
/// let t = Timestamp::from_unix_millis(1_759_175_412_345);
/// assert_eq!(t.to_string(), "2025-09-29T19:50:12.345Z");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    millis: u64,
}

impl Timestamp {
    /// The current time of the system clock (before 1970 reads as 1970, after 9999 as 9999).
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// The instant `millis` milliseconds after 1970-01-01T00:00:00Z (capped at the end of 9999,
    /// the last instant the format can write).
    pub fn from_unix_millis(millis: u64) -> Self {
        Self {
            millis: millis.min(MAX_MILLIS),
        }
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn unix_millis(&self) -> u64 {
        self.millis
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Self::from_unix_millis(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.millis % 1000;
        let secs = self.millis / 1000;
        let (days, day_secs) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            day_secs / 3600,
            day_secs / 60 % 60,
            day_secs % 60
        )
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "UTC, millisecond precision, ending in Z: 2025-09-29T19:50:12.345Z.",
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_759_175_412_345, "2025-09-29T19:50:12.345Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"), // leap day of a 400-year leap year
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"), // 2100 is not a leap year
            (MAX_MILLIS, "9999-12-31T23:59:59.999Z"),
            (u64::MAX, "9999-12-31T23:59:59.999Z"),
        ];
        for (millis, want) in cases {
            assert_eq!(Timestamp::from_unix_millis(millis).to_string(), want);
        }
    }

    #[test]
    fn before_the_epoch_reads_as_the_epoch() {
        let t = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(Timestamp::from(t).unix_millis(), 0);
    }
}
