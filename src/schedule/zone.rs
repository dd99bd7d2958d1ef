//! Resolves the time zone of a cron schedule: the configured IANA name, else the
//! system's local zone, else UTC with the reason kept for a warning.
//!
//! This module only names zones. It must not compute firing times.

use std::sync::Arc;

use chrono_tz::Tz;

use super::ScheduleError;

/// Reason the system's local time zone could not be used. Cron schedules without a
/// `timezone` key then run in UTC.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SystemTimeZoneError {
    #[error("failed to determine the system time zone")]
    Lookup(#[source] Arc<iana_time_zone::GetTimezoneError>),

    #[error("the system time zone \"{name}\" is not in the IANA time zone database")]
    NotIana { name: String },
}

/// A time zone and, when the system zone was requested but unusable, why UTC replaced it.
#[derive(Debug, Clone)]
pub(super) struct ResolvedZone {
    pub(super) zone: Tz,
    pub(super) fallback: Option<SystemTimeZoneError>,
}

/// Resolves `configured`, or the zone that `system_zone` names when it is None.
///
/// An unknown configured name is an error. A failed or unknown system zone is not,
/// because the daemon can still run: UTC is used and the reason is returned.
pub(super) fn resolve_zone(
    configured: Option<&str>,
    system_zone: impl FnOnce() -> Result<String, iana_time_zone::GetTimezoneError>,
) -> Result<ResolvedZone, ScheduleError> {
    if let Some(name) = configured {
        let zone = parse_zone(name).ok_or_else(|| ScheduleError::UnknownTimeZone {
            name: name.to_owned(),
        })?;
        return Ok(ResolvedZone {
            zone,
            fallback: None,
        });
    }

    match system_zone() {
        Ok(name) => match parse_zone(&name) {
            Some(zone) => Ok(ResolvedZone {
                zone,
                fallback: None,
            }),
            None => Ok(utc_fallback(SystemTimeZoneError::NotIana { name })),
        },
        Err(error) => Ok(utc_fallback(SystemTimeZoneError::Lookup(Arc::new(error)))),
    }
}

fn parse_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

fn utc_fallback(reason: SystemTimeZoneError) -> ResolvedZone {
    ResolvedZone {
        zone: Tz::UTC,
        fallback: Some(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_system_zone() -> Result<String, iana_time_zone::GetTimezoneError> {
        Err(iana_time_zone::GetTimezoneError::OsError)
    }

    #[test]
    fn configured_zone_wins_over_system_zone() {
        let resolved = resolve_zone(Some("Asia/Jakarta"), || Ok("Europe/Berlin".to_owned()));

        let resolved = resolved.expect("Asia/Jakarta is an IANA name");
        assert_eq!(resolved.zone, Tz::Asia__Jakarta);
        assert!(resolved.fallback.is_none());
    }

    #[test]
    fn unknown_configured_zone_is_error() {
        let error = resolve_zone(Some("Europe/Berln"), no_system_zone).expect_err("typo in zone");

        assert_eq!(
            error.to_string(),
            "unknown time zone \"Europe/Berln\": use an IANA name such as \"Europe/Berlin\""
        );
    }

    #[test]
    fn system_zone_used_without_configured_zone() {
        let resolved = resolve_zone(None, || Ok("America/New_York".to_owned()));

        let resolved = resolved.expect("system zone is an IANA name");
        assert_eq!(resolved.zone, Tz::America__New_York);
        assert!(resolved.fallback.is_none());
    }

    #[test]
    fn failed_system_lookup_falls_back_to_utc() {
        let resolved = resolve_zone(None, no_system_zone).expect("fallback is not an error");

        assert_eq!(resolved.zone, Tz::UTC);
        assert!(matches!(
            resolved.fallback,
            Some(SystemTimeZoneError::Lookup(_))
        ));
    }

    #[test]
    fn non_iana_system_zone_falls_back_to_utc() {
        let resolved = resolve_zone(None, || Ok("Mars/Olympus".to_owned()));

        let resolved = resolved.expect("fallback is not an error");
        assert_eq!(resolved.zone, Tz::UTC);
        let reason = resolved.fallback.expect("reason for the fallback");
        assert_eq!(
            reason.to_string(),
            "the system time zone \"Mars/Olympus\" is not in the IANA time zone database"
        );
    }
}
