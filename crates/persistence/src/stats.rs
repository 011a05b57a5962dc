//! Statistics from the clear statistical fields only: no statistic ever opens a sealed value.
//! Each table is counted by the database (grouped), shaped here, and protected by the k rule
//! (`domain::stats`) before anyone sees it.

use std::collections::BTreeMap;

use diesel::dsl::count_star;
use diesel::prelude::*;
use domain::policy::{Action, Relation};
use domain::stats::Table;

use crate::clock::code_list;
use crate::error::AuthError;
use crate::identity::Actor;
use crate::schema::{case_plan_items, cases, referrals};
use crate::{AuditEvent, Database, DbConnection, DbError, Vault};

const DAY_US: i64 = 86_400_000_000;

/// How calls are bucketed in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        Some(match s {
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "quarter" => Period::Quarter,
            "year" => Period::Year,
            _ => return None,
        })
    }

    /// The label of the period a day (days since 1970-01-01) falls in.
    fn label(self, day: i64) -> String {
        use chrono::Datelike;
        let date = chrono::DateTime::from_timestamp(day * 86_400, 0)
            .map(|t| t.date_naive())
            .unwrap_or_default();
        match self {
            Period::Day => date.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let w = date.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            Period::Month => date.format("%Y-%m").to_string(),
            Period::Quarter => format!("{}-Q{}", date.year(), (date.month() - 1) / 3 + 1),
            Period::Year => date.format("%Y").to_string(),
        }
    }
}

/// The tables the statistics API knows.
pub const TABLES: [&str; 9] = [
    "calls",
    "cases_by_status",
    "cases_by_exploitation",
    "cases_by_gender_and_age",
    "cases_by_nationality",
    "cases_by_country",
    "referrals_by_service",
    "referral_days_to_accept",
    "plan_items",
];

/// Which calls dimension to cross with the period.
pub const CALL_DIMENSIONS: [&str; 5] = ["topic", "channel", "region", "caller_role", "outcome"];

/// A request for one table.
#[derive(Debug, Clone)]
pub struct StatsQuery {
    pub table: String,
    /// Microseconds, inclusive.
    pub from: i64,
    /// Microseconds, exclusive.
    pub to: i64,
    pub period: Period,
    /// For `calls`: one of [`CALL_DIMENSIONS`].
    pub by: String,
}

/// Builds a table from (row, column, count) triples, rows and columns in first-seen sorted
/// order, with every listed label present even when its counts are all zero.
fn shape(
    triples: impl IntoIterator<Item = (String, String, u64)>,
    rows: &[String],
    cols: &[String],
) -> Table {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut row_set: Vec<String> = rows.to_vec();
    let mut col_set: Vec<String> = cols.to_vec();
    for (r, c, n) in triples {
        if !row_set.contains(&r) {
            row_set.push(r.clone());
        }
        if !col_set.contains(&c) {
            col_set.push(c.clone());
        }
        *counts.entry((r, c)).or_default() += n;
    }
    if rows.is_empty() {
        row_set.sort();
    }
    if cols.is_empty() {
        col_set.sort();
    }
    Table {
        cells: row_set
            .iter()
            .map(|r| {
                col_set
                    .iter()
                    .map(|c| counts.get(&(r.clone(), c.clone())).copied().unwrap_or(0))
                    .collect()
            })
            .collect(),
        rows: row_set,
        cols: col_set,
    }
}

fn codes(v: domain::vocabulary::Vocabulary) -> Vec<String> {
    v.terms.iter().map(|t| t.code.to_string()).collect()
}

impl Vault {
    /// One statistics table, unprotected (callers apply the k rule). Supervisors and admins.
    pub fn stats_table(
        &self,
        db: &Database,
        actor: &Actor,
        q: &StatsQuery,
    ) -> Result<Table, AuthError> {
        let mut tables = self.stats_tables(db, actor, std::slice::from_ref(q))?;
        Ok(tables.remove(0))
    }

    /// Several tables (a report) under one policy decision, one connection and one audit event.
    pub fn stats_tables(
        &self,
        db: &Database,
        actor: &Actor,
        queries: &[StatsQuery],
    ) -> Result<Vec<Table>, AuthError> {
        let rule = self.authorize(db, actor, Action::StatsRead, Relation::NoObject, None)?;
        let tables = db.with_conn(|conn| {
            queries
                .iter()
                .map(|q| count_table(conn, q))
                .collect::<Result<Vec<_>, _>>()
        })?;
        db.write(|conn| {
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("stats".into()),
                    fields: queries.iter().map(|q| q.table.clone()).collect(),
                    rule: Some(rule.into()),
                    ..actor.event("stats.read")
                },
            )
        })?;
        Ok(tables)
    }
}

/// Counts one table (no authorization: the CLI export and the API both come through here).
pub fn count_table(conn: &mut DbConnection, q: &StatsQuery) -> Result<Table, DbError> {
    use domain::vocabulary as v;
    Ok(match q.table.as_str() {
        "calls" => {
            let column = match q.by.as_str() {
                "channel" => "channel",
                "region" => "region",
                "caller_role" => "caller_role",
                "outcome" => "outcome",
                _ => "topics",
            };
            let rows = grouped_calls(conn, q, column)?;
            let cols = match q.by.as_str() {
                "channel" => codes(v::CHANNEL),
                "region" => codes(v::REGION),
                "caller_role" => codes(v::CALLER_ROLE),
                "outcome" => codes(v::OUTCOME),
                _ => codes(v::TOPIC),
            };
            let mut triples = Vec::new();
            for (day, value, n) in rows {
                let period = q.period.label(day);
                // A call with several topics counts once under each.
                for part in code_list(&value) {
                    triples.push((period.clone(), part, n as u64));
                }
            }
            shape(triples, &[], &cols)
        }
        "cases_by_status" => {
            let rows: Vec<(String, i64)> = cases::table
                .filter(cases::opened_at.ge(q.from))
                .filter(cases::opened_at.lt(q.to))
                .group_by(cases::status)
                .select((cases::status, count_star()))
                .load(conn)?;
            shape(
                rows.into_iter().map(|(s, n)| (s, "cases".into(), n as u64)),
                &codes(v::CASE_STATUS),
                &["cases".into()],
            )
        }
        "cases_by_exploitation" => {
            let rows: Vec<(String, String, i64)> = cases::table
                .filter(cases::opened_at.ge(q.from))
                .filter(cases::opened_at.lt(q.to))
                .group_by((cases::exploitation_types, cases::status))
                .select((cases::exploitation_types, cases::status, count_star()))
                .load(conn)?;
            let mut triples = Vec::new();
            for (types, status, n) in rows {
                let types = if types.is_empty() {
                    vec!["unknown".to_string()]
                } else {
                    code_list(&types)
                };
                for t in types {
                    triples.push((t, status.clone(), n as u64));
                }
            }
            let mut rows = codes(v::EXPLOITATION_TYPE);
            rows.push("unknown".into());
            shape(triples, &rows, &codes(v::CASE_STATUS))
        }
        "cases_by_gender_and_age" => {
            let rows: Vec<(String, String, i64)> = cases::table
                .filter(cases::opened_at.ge(q.from))
                .filter(cases::opened_at.lt(q.to))
                .group_by((cases::gender, cases::age_band))
                .select((cases::gender, cases::age_band, count_star()))
                .load(conn)?;
            shape(
                rows.into_iter().map(|(g, a, n)| (g, a, n as u64)),
                &codes(v::GENDER),
                &codes(v::AGE_GROUP),
            )
        }
        "cases_by_nationality" => {
            let rows: Vec<(String, i64)> = cases::table
                .filter(cases::opened_at.ge(q.from))
                .filter(cases::opened_at.lt(q.to))
                .group_by(cases::nationality)
                .select((cases::nationality, count_star()))
                .load(conn)?;
            shape(
                rows.into_iter().map(|(c, n)| (c, "cases".into(), n as u64)),
                &[],
                &["cases".into()],
            )
        }
        "cases_by_country" => {
            let rows: Vec<(String, String, i64)> = cases::table
                .filter(cases::opened_at.ge(q.from))
                .filter(cases::opened_at.lt(q.to))
                .group_by((cases::recruitment_countries, cases::exploitation_countries))
                .select((
                    cases::recruitment_countries,
                    cases::exploitation_countries,
                    count_star(),
                ))
                .load(conn)?;
            let mut triples = Vec::new();
            for (recruited, exploited, n) in rows {
                for c in code_list(&recruited) {
                    triples.push((c, "recruitment".to_string(), n as u64));
                }
                for c in code_list(&exploited) {
                    triples.push((c, "exploitation".to_string(), n as u64));
                }
            }
            shape(triples, &[], &["recruitment".into(), "exploitation".into()])
        }
        "referrals_by_service" => {
            let rows: Vec<(String, String, i64)> = referrals::table
                .filter(referrals::created_at.ge(q.from))
                .filter(referrals::created_at.lt(q.to))
                .group_by((referrals::service_type, referrals::status))
                .select((referrals::service_type, referrals::status, count_star()))
                .load(conn)?;
            shape(
                rows.into_iter().map(|(t, s, n)| (t, s, n as u64)),
                &codes(v::SERVICE_TYPE),
                &domain::referrals::Status::ALL.map(|s| s.as_str().to_string()),
            )
        }
        "referral_days_to_accept" => {
            // Referrals answered (accepted or later) by service type and days from sending to
            // the answer, in bands.
            let rows: Vec<(String, i64, i64)> = referrals::table
                .filter(referrals::created_at.ge(q.from))
                .filter(referrals::created_at.lt(q.to))
                .filter(referrals::status.eq_any(["accepted", "in_progress", "completed"]))
                .filter(referrals::sent_at.is_not_null())
                .filter(referrals::answered_at.is_not_null())
                .select((
                    referrals::service_type,
                    referrals::sent_at.assume_not_null(),
                    referrals::answered_at.assume_not_null(),
                ))
                .load(conn)?;
            let band = |days: i64| match days {
                ..=0 => "same day",
                1..=2 => "1-2 days",
                3..=7 => "3-7 days",
                _ => "over a week",
            };
            shape(
                rows.into_iter().map(|(t, sent, answered)| {
                    (t, band((answered - sent) / DAY_US).to_string(), 1)
                }),
                &codes(v::SERVICE_TYPE),
                &[
                    "same day".into(),
                    "1-2 days".into(),
                    "3-7 days".into(),
                    "over a week".into(),
                ],
            )
        }
        "plan_items" => {
            let rows: Vec<(String, String, i64)> = case_plan_items::table
                .filter(case_plan_items::created_at.ge(q.from))
                .filter(case_plan_items::created_at.lt(q.to))
                .group_by((case_plan_items::domain, case_plan_items::status))
                .select((
                    case_plan_items::domain,
                    case_plan_items::status,
                    count_star(),
                ))
                .load(conn)?;
            shape(
                rows.into_iter().map(|(d, s, n)| (d, s, n as u64)),
                &codes(v::PLAN_DOMAIN),
                &codes(v::PLAN_STATUS),
            )
        }
        _ => return Err(DbError::NotFound),
    })
}

#[derive(QueryableByName)]
struct DayCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    day: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Calls per day and value of one column, counted by the database.
fn grouped_calls(
    conn: &mut DbConnection,
    q: &StatsQuery,
    column: &str,
) -> Result<Vec<(i64, String, i64)>, DbError> {
    // `column` is one of a fixed list, never client text.
    debug_assert!(["topics", "channel", "region", "caller_role", "outcome"].contains(&column));
    let sql = format!(
        "SELECT started_at / {DAY_US} AS day, {column} AS value, COUNT(*) AS n FROM calls \
         WHERE started_at >= $1 AND started_at < $2 GROUP BY started_at / {DAY_US}, {column}"
    );
    Ok(diesel::sql_query(sql)
        .bind::<diesel::sql_types::BigInt, _>(q.from)
        .bind::<diesel::sql_types::BigInt, _>(q.to)
        .load::<DayCount>(conn)?
        .into_iter()
        .map(|r| (r.day, r.value, r.n))
        .collect())
}

/// The columns of the case-level export in the layout of IOM's Human Trafficking Case Data
/// Standard, as the Counter Trafficking Data Collaborative publishes it (docs/statistics.md has
/// the mapping from our fields).
pub const HTCDS_COLUMNS: [&str; 31] = [
    "yearOfRegistration",
    "gender",
    "ageBroad",
    "majorityStatus",
    "citizenship",
    "CountryOfExploitation",
    "isForcedLabour",
    "isSexualExploit",
    "isForcedMarriage",
    "isSlaveryAndPractices",
    "isOrganRemoval",
    "isForcedMilitary",
    "isOtherExploit",
    "meansOfControlDebtBondage",
    "meansOfControlTakesEarnings",
    "meansOfControlRestrictsMovement",
    "meansOfControlIsolation",
    "meansOfControlThreats",
    "meansOfControlThreatsToFamily",
    "meansOfControlPhysicalAbuse",
    "meansOfControlSexualAbuse",
    "meansOfControlPsychologicalAbuse",
    "meansOfControlWithholdsDocuments",
    "meansOfControlExcessiveWorkingHours",
    "meansOfControlUsesDrugs",
    "meansOfControlFalsePromises",
    "meansOfControlOther",
    "recruiterRelationIntimatePartner",
    "recruiterRelationFriend",
    "recruiterRelationFamily",
    "recruiterRelationOther",
];

/// Case-level records in the HTCDS layout, k-anonymous on the quasi-identifiers (year, gender,
/// age band, citizenship, country of exploitation): a record in a group smaller than k first
/// loses its citizenship and country of exploitation, then its age band; a record still in a
/// group smaller than k is left out. Returns the records and how many were left out.
pub fn htcds_records(
    conn: &mut DbConnection,
    from: i64,
    to: i64,
    k: usize,
) -> Result<(Vec<Vec<String>>, usize), DbError> {
    type Row = (i64, String, String, String, String, String, String, String);
    let rows: Vec<Row> = cases::table
        .filter(cases::opened_at.ge(from))
        .filter(cases::opened_at.lt(to))
        .select((
            cases::opened_at,
            cases::gender,
            cases::age_band,
            cases::nationality,
            cases::exploitation_countries,
            cases::exploitation_types,
            cases::control_methods,
            cases::recruitment,
        ))
        .order_by((cases::opened_at, cases::id))
        .load(conn)?;
    let flag = |b: bool| if b { "1" } else { "0" }.to_string();
    let mut records: Vec<Vec<String>> = rows
        .into_iter()
        .map(
            |(opened, gender, age, nationality, countries, types, control, recruitment)| {
                use chrono::Datelike;
                let year = chrono::DateTime::from_timestamp_micros(opened)
                    .map(|t| t.year().to_string())
                    .unwrap_or_default();
                let types = code_list(&types);
                let control = code_list(&control);
                let has = |v: &[String], c: &str| v.iter().any(|x| x == c);
                let minor = matches!(age.as_str(), "0-8" | "9-17");
                let mut r = vec![
                    year,
                    match gender.as_str() {
                        "female" => "Female",
                        "male" => "Male",
                        "other" => "Transgender/NonConforming",
                        _ => "",
                    }
                    .to_string(),
                    if age == "unknown" {
                        String::new()
                    } else {
                        age.replace('-', "--")
                    },
                    match (age.as_str(), minor) {
                        ("unknown", _) => "",
                        (_, true) => "Minor",
                        _ => "Adult",
                    }
                    .to_string(),
                    if nationality == "XX" {
                        String::new()
                    } else {
                        nationality
                    },
                    code_list(&countries).into_iter().next().unwrap_or_default(),
                    flag(has(&types, "forced_labour")),
                    flag(has(&types, "sexual")),
                    flag(has(&types, "forced_marriage")),
                    flag(has(&types, "domestic_servitude")),
                    flag(has(&types, "organ_removal")),
                    flag(has(&types, "forced_military")),
                    flag(
                        has(&types, "begging")
                            || has(&types, "forced_criminal_activity")
                            || has(&types, "other"),
                    ),
                ];
                for c in [
                    "debt_bondage",
                    "withheld_earnings",
                    "restricted_movement",
                    "isolation",
                    "threats",
                    "threats_to_family",
                    "physical_abuse",
                    "sexual_abuse",
                    "psychological_abuse",
                    "withheld_documents",
                    "excessive_hours",
                    "substances",
                    "false_promises",
                    "other",
                ] {
                    r.push(flag(has(&control, c)));
                }
                r.push(flag(recruitment == "intimate_partner"));
                r.push(flag(recruitment == "friend"));
                r.push(flag(recruitment == "family"));
                r.push(flag(!matches!(
                    recruitment.as_str(),
                    "intimate_partner" | "friend" | "family" | "unknown"
                )));
                r
            },
        )
        .collect();
    // Quasi-identifier columns: year, gender, age band, citizenship, country of exploitation.
    let group_sizes = |records: &[Vec<String>]| {
        let mut sizes: BTreeMap<Vec<String>, usize> = BTreeMap::new();
        for r in records {
            *sizes.entry(quasi(r)).or_default() += 1;
        }
        sizes
    };
    fn quasi(r: &[String]) -> Vec<String> {
        vec![
            r[0].clone(),
            r[1].clone(),
            r[2].clone(),
            r[4].clone(),
            r[5].clone(),
        ]
    }
    for generalise in [&[4usize, 5][..], &[2, 4, 5][..]] {
        let sizes = group_sizes(&records);
        for r in records.iter_mut() {
            if sizes[&quasi(r)] < k {
                for c in generalise {
                    r[*c] = String::new();
                }
            }
        }
    }
    let sizes = group_sizes(&records);
    let before = records.len();
    records.retain(|r| sizes[&quasi(r)] >= k);
    Ok((records.clone(), before - records.len()))
}
