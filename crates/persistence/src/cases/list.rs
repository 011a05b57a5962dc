//! Listing cases (keyset-paged) and searching them through the blind indexes.

use super::*;

/// Filters of the case list; a case worker's list is always their own cases.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<String>,
    pub risk_level: Option<String>,
    /// A user id, or "none" for unassigned cases (supervisors).
    pub assigned_to: Option<String>,
    /// `(opened_at, id)` of the last case of the previous page.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// A case as the list shows it: the summary and the next follow-up due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCase {
    pub summary: CaseSummary,
    /// The earliest date (`YYYY-MM-DD`) something is due on the case: an open plan item's due
    /// date (planned or in progress) or an open referral's follow-up date. Past dates stay: an
    /// overdue follow-up is the one that matters most.
    pub next_follow_up: Option<String>,
}

impl Vault {
    /// Cases, newest first, without personal content: a case worker's own, or (supervisors)
    /// all with filters. Keyset paging on (opened_at, id), so a page costs the same however many
    /// cases there are.
    pub fn list_cases(
        &self,
        db: &Database,
        actor: &Actor,
        filter: &CaseFilter,
    ) -> Result<Vec<ListedCase>, AuthError> {
        let rule = self.authorize(db, actor, Action::CaseList, Relation::NoObject, None)?;
        let rows = db.with_conn(|conn| {
            let mut q = cases::table.select(CaseSummary::as_select()).into_boxed();
            let assignee = if actor.role == Role::Supervisor {
                filter.assigned_to.clone()
            } else {
                Some(actor.user_id.clone())
            };
            match assignee.as_deref() {
                Some("none") => q = q.filter(cases::assigned_to.is_null()),
                Some(user) => q = q.filter(cases::assigned_to.eq(user.to_string())),
                None => {}
            }
            if let Some(s) = &filter.status {
                q = q.filter(cases::status.eq(s.clone()));
            }
            if let Some(r) = &filter.risk_level {
                q = q.filter(cases::risk_level.eq(r.clone()));
            }
            if let Some((at, id)) = &filter.before {
                q = q.filter(
                    cases::opened_at
                        .lt(*at)
                        .or(cases::opened_at.eq(*at).and(cases::id.lt(id.clone()))),
                );
            }
            let rows: Vec<CaseSummary> = q
                .order_by((cases::opened_at.desc(), cases::id.desc()))
                .limit(filter.limit.clamp(1, 200))
                .load::<CaseSummary>(conn)?;
            let mut due = next_follow_ups(conn, &rows)?;
            Ok(rows
                .into_iter()
                .map(|summary| ListedCase {
                    next_follow_up: due.remove(&summary.id),
                    summary,
                })
                .collect::<Vec<_>>())
        })?;
        self.record_durably(
            db,
            AuditEvent {
                record_type: Some("case".into()),
                rule: Some(rule.into()),
                ..actor.event("case.list")
            },
        )?;
        Ok(rows)
    }
}

impl Vault {
    /// The cases with something overdue (an open plan item due, or an open referral's
    /// follow-up, before `today`), the most overdue first, each with its earliest overdue
    /// date: a supervisor's across every case worker, a case worker's own. Audited as the
    /// case list it is (no personal content).
    pub fn overdue_cases(
        &self,
        db: &Database,
        actor: &Actor,
        today: &str,
    ) -> Result<Vec<ListedCase>, AuthError> {
        let rule = self.authorize(db, actor, Action::CaseList, Relation::NoObject, None)?;
        let rows = db.with_conn(|conn| {
            let mut due = earliest_due(conn, Due::Before(today))?;
            let ids: Vec<&String> = due.keys().collect();
            let mut q = cases::table
                .filter(cases::id.eq_any(ids))
                .select(CaseSummary::as_select())
                .into_boxed();
            if actor.role != Role::Supervisor {
                q = q.filter(cases::assigned_to.eq(actor.user_id.clone()));
            }
            let found: Vec<CaseSummary> = q.load(conn)?;
            let mut listed: Vec<ListedCase> = found
                .into_iter()
                .map(|summary| ListedCase {
                    next_follow_up: due.remove(&summary.id),
                    summary,
                })
                .collect();
            listed.sort_by(|a, b| {
                (&a.next_follow_up, &a.summary.reference)
                    .cmp(&(&b.next_follow_up, &b.summary.reference))
            });
            Ok(listed)
        })?;
        self.record_durably(
            db,
            AuditEvent {
                record_type: Some("case".into()),
                rule: Some(rule.into()),
                purpose: Some("overdue".into()),
                ..actor.event("case.list")
            },
        )?;
        Ok(rows)
    }
}

/// The next follow-up of each of `cases` that has one: two grouped queries over this page's
/// cases only (indexed by case), so the list's cost does not grow with the organisation.
fn next_follow_ups(
    conn: &mut DbConnection,
    cases: &[CaseSummary],
) -> Result<std::collections::HashMap<String, String>, DbError> {
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    earliest_due(conn, Due::Of(&ids))
}

/// Whose follow-ups to gather: these cases', or every one due before a day.
enum Due<'a> {
    Of(&'a [&'a str]),
    Before(&'a str),
}

/// The earliest date something is due on each case in `scope` (an open plan item's due date,
/// an open referral's follow-up): two grouped queries, by case.
fn earliest_due(
    conn: &mut DbConnection,
    scope: Due<'_>,
) -> Result<std::collections::HashMap<String, String>, DbError> {
    use crate::schema::{case_plan_items as plan, referrals};
    use diesel::dsl::min;
    let mut plans = plan::table
        .filter(plan::status.eq_any(["planned", "in_progress"]))
        .filter(plan::due_on.is_not_null())
        .group_by(plan::case_id)
        .select((plan::case_id, min(plan::due_on)))
        .into_boxed();
    let mut follow_ups = referrals::table
        .filter(referrals::status.eq_any(crate::referrals::OPEN))
        .filter(referrals::follow_up_on.is_not_null())
        .group_by(referrals::case_id)
        .select((referrals::case_id, min(referrals::follow_up_on)))
        .into_boxed();
    match scope {
        Due::Of(ids) => {
            plans = plans.filter(plan::case_id.eq_any(ids));
            follow_ups = follow_ups.filter(referrals::case_id.eq_any(ids));
        }
        Due::Before(day) => {
            plans = plans.filter(plan::due_on.lt(day)).limit(1000);
            follow_ups = follow_ups
                .filter(referrals::follow_up_on.lt(day))
                .limit(1000);
        }
    }
    let plan_due: Vec<(String, Option<String>)> = plans.load(conn)?;
    let referral_due: Vec<(String, Option<String>)> = follow_ups.load(conn)?;
    let mut due = std::collections::HashMap::new();
    for (case_id, date) in plan_due.into_iter().chain(referral_due) {
        let Some(date) = date else { continue };
        due.entry(case_id)
            .and_modify(|d: &mut String| {
                if date < *d {
                    *d = date.clone();
                }
            })
            .or_insert(date);
    }
    Ok(due)
}

/// A search hit: enough to recognise the person and open the case.
#[derive(Debug, Clone)]
pub struct CaseHit {
    pub summary: CaseSummary,
    pub name: Sensitive<String>,
}

impl Vault {
    /// Cases whose victim has this name (exactly, after normalisation) or this phone number,
    /// among the cases the actor may read. Candidates come from the blind indexes; each is
    /// opened and compared, so collisions never show. The terms are in no log and no audit
    /// event: the event says which index was searched and nothing else.
    pub fn search_cases(
        &self,
        db: &Database,
        actor: &Actor,
        name: Option<&Sensitive<String>>,
        phone: Option<&PhoneNumber>,
    ) -> Result<Vec<CaseHit>, AuthError> {
        let rule = self.authorize(db, actor, Action::CaseSearch, Relation::NoObject, None)?;
        let name = name.map(|n| domain::normalize::name(n.expose()));
        let now = now_micros();
        Ok(db.write(|conn| {
            let mut candidates = Vec::new();
            let mut fields = Vec::new();
            if let Some(n) = &name {
                candidates.extend(self.blind_index_candidates(conn, "cases", "victim_name", n)?);
                fields.push("victim_name".to_string());
            }
            if let Some(p) = phone {
                candidates.extend(self.blind_index_candidates(
                    conn,
                    "cases",
                    "victim_phone",
                    p.e164(),
                )?);
                fields.push("victim_phone".to_string());
            }
            let mut ids: Vec<String> = candidates.into_iter().map(|(owner, _)| owner).collect();
            ids.sort();
            ids.dedup();
            // The candidate cases in one query (index collisions make them a few, never many).
            let rows: Vec<CaseRow> = cases::table
                .filter(cases::id.eq_any(&ids))
                .select(CaseRow::as_select())
                .load(conn)?;
            let mut hits = Vec::new();
            for row in rows {
                let id = row.id.clone();
                if !self.may_read(conn, actor, &row, now)? {
                    continue;
                }
                let dek = match self.data_key(conn, &id) {
                    Ok(dek) => dek,
                    Err(DbError::Erased) => continue,
                    Err(e) => return Err(e),
                };
                let Some(profile) = self.open_content(&dek, &row)?.profile else {
                    continue;
                };
                let matches = name
                    .as_ref()
                    .is_some_and(|n| profile.search_names().contains(n))
                    || phone.is_some_and(|p| profile.phones().iter().any(|x| x == p.e164()));
                if matches {
                    let full = [&profile.given_name, &profile.family_name]
                        .iter()
                        .filter_map(|n| n.as_deref())
                        .collect::<Vec<_>>()
                        .join(" ");
                    hits.push(CaseHit {
                        summary: row.summary(),
                        name: Sensitive::new(full),
                    });
                }
            }
            hits.sort_by_key(|h| std::cmp::Reverse(h.summary.opened_at));
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    fields,
                    rule: Some(rule.into()),
                    ..actor.event("case.search")
                },
            )?;
            Ok(hits)
        })?)
    }

    /// Whether the policy lets the actor read this case (no audit event: used to filter).
    pub(super) fn may_read(
        &self,
        conn: &mut DbConnection,
        actor: &Actor,
        row: &CaseRow,
        now: i64,
    ) -> Result<bool, DbError> {
        let (relation, _) = policy_relation(conn, actor, row, Action::CaseRead, now)?;
        Ok(domain::policy::authorize(actor.role, Action::CaseRead, relation).is_allowed())
    }
}
