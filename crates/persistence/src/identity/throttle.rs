//! The sign-in throttle: failures per login name and per source, and the growing wait they earn.

use super::*;

/// The wait still due after `failures` failures, the last one at `last`.
pub(super) fn throttle_wait(
    settings: &AuthSettings,
    failures: i32,
    last: i64,
    now: i64,
) -> Option<Duration> {
    let after = i32::try_from(settings.throttle_after).unwrap_or(i32::MAX);
    if failures < after {
        return None;
    }
    let over = failures - after;
    let factor = 1u32
        .checked_shl(over.clamp(0, 20) as u32)
        .unwrap_or(u32::MAX);
    let wait = settings
        .throttle_base
        .saturating_mul(factor)
        .min(settings.throttle_max);
    let until = last.saturating_add(crate::clock::duration_micros(wait));
    (until > now).then(|| Duration::from_micros((until - now) as u64))
}

impl Vault {
    pub(super) fn throttle_keys(
        &self,
        login: &str,
        source_ref: Option<&str>,
    ) -> Result<Vec<String>, AuthError> {
        let key = self.ring().purpose_key("login-throttle")?;
        let mut keys = vec![format!(
            "login:{}",
            crypto::token::pseudonym(&key, login.trim().to_lowercase().as_bytes())
        )];
        if let Some(source) = source_ref {
            keys.push(format!("source:{source}"));
        }
        Ok(keys)
    }

    /// The longest wait due on any of the keys.
    pub(super) fn throttled(
        &self,
        db: &Database,
        settings: &AuthSettings,
        keys: &[String],
    ) -> Result<Option<Duration>, AuthError> {
        let rows: Vec<(i32, i64)> = db.with_conn(|conn| {
            Ok(crate::schema::login_throttle::table
                .filter(crate::schema::login_throttle::key.eq_any(keys))
                .select((
                    crate::schema::login_throttle::failures,
                    crate::schema::login_throttle::last_failure_at,
                ))
                .load(conn)?)
        })?;
        let now = now_micros();
        Ok(rows
            .into_iter()
            .filter_map(|(f, last)| throttle_wait(settings, f, last, now))
            .max())
    }

    pub(super) fn note_failure(
        &self,
        conn: &mut crate::DbConnection,
        keys: &[String],
    ) -> Result<(), DbError> {
        for key in keys {
            diesel::sql_query(
                "INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 1, $2)
                 ON CONFLICT (key) DO UPDATE SET failures = login_throttle.failures + 1,
                 last_failure_at = excluded.last_failure_at",
            )
            .bind::<diesel::sql_types::Text, _>(key)
            .bind::<diesel::sql_types::BigInt, _>(now_micros())
            .execute(conn)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_with_failures_up_to_the_cap() {
        let s = AuthSettings::default();
        let now = 1_000_000_000_000i64;
        assert_eq!(throttle_wait(&s, 2, now, now), None, "below the threshold");
        let lenient = AuthSettings {
            throttle_after: 1000,
            ..AuthSettings::default()
        };
        assert_eq!(throttle_wait(&lenient, 999, now, now), None);
        assert_eq!(throttle_wait(&s, 3, now, now), Some(Duration::from_secs(1)));
        assert_eq!(throttle_wait(&s, 4, now, now), Some(Duration::from_secs(2)));
        assert_eq!(throttle_wait(&s, 6, now, now), Some(Duration::from_secs(8)));
        assert_eq!(
            throttle_wait(&s, 60, now, now),
            Some(Duration::from_secs(60)),
            "capped"
        );
        assert_eq!(
            throttle_wait(&s, 4, now, now + 2_000_000),
            None,
            "the wait has passed"
        );
        assert_eq!(
            throttle_wait(&s, 4, now, now + 500_000),
            Some(Duration::from_millis(1500))
        );
    }
}
