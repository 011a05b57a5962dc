//! Reading a whole case file: the case, its facts and sealed content, and its children (notes, plan items, consents, linked calls) in one query.

use super::*;

impl Vault {
    /// The whole case file, if the policy allows, and who read it (the session's actor, checked
    /// in the same query); one audit event names what was opened. For a request whose session
    /// is not checked yet: see [`Vault::case_in_session`].
    pub fn read_case_in_session(
        &self,
        db: &Database,
        claim: Claim<'_>,
        settings: &AuthSettings,
        id: &str,
    ) -> Result<(Actor, CaseFile), AuthError> {
        let (actor, row, rule, grant, key, children) =
            self.case_in_session_with(db, claim, settings, Action::CaseRead, id, true)?;
        let file = self.load_case(db, row, Some((&actor, rule)), grant, key, children)?;
        Ok((actor, file))
    }

    /// The case file for a caller that authorized and audits itself (the subject access export).
    pub(crate) fn read_case_unaudited(
        &self,
        db: &Database,
        id: &str,
    ) -> Result<CaseFile, AuthError> {
        let (row, key) = db.with_conn(|conn| case_with_key(conn, id)?.ok_or(DbError::NotFound))?;
        self.load_case(db, row, None, None, key, None)
    }

    pub(super) fn load_case(
        &self,
        db: &Database,
        row: CaseRow,
        audit: Option<(&Actor, &'static str)>,
        break_glass_until: Option<i64>,
        // The data key row, read with the case (`None`: the case has no key row).
        key: Option<KeyRow>,
        // The file's children, when read with the case (see `Vault::case_in_session_with`).
        children: Option<Vec<ChildRow>>,
    ) -> Result<CaseFile, AuthError> {
        let id = row.id.clone();
        let id = id.as_str();
        // The read, then its audit event committed (grouped with concurrent reads' events)
        // before the file is returned.
        let (file, event) = db.read(|conn| {
            // An erased case keeps only its statistical facts (and linked calls' facts).
            let (content, dek) = match self.unwrap_data_key(id, key) {
                Ok(dek) => (self.open_content(&dek, &row)?, Some(dek)),
                Err(DbError::Erased) => (
                    Content {
                        profile: None,
                        exploitation_details: None,
                        needs_assessment: None,
                    },
                    None,
                ),
                Err(e) => return Err(e),
            };
            let CaseChildren {
                notes,
                plan,
                consents,
                calls: linked,
            } = self.case_children(conn, dek.as_ref(), id, children)?;
            let legal_hold = crate::lifecycle::is_held(conn, id)?;
            let mut fields = vec!["facts".to_string()];
            for (name, present) in [
                ("profile", content.profile.is_some()),
                (
                    "exploitation_details",
                    content.exploitation_details.is_some(),
                ),
                ("needs_assessment", content.needs_assessment.is_some()),
                ("notes", !notes.is_empty()),
                ("plan", !plan.is_empty()),
                ("consents", !consents.is_empty()),
            ] {
                if present {
                    fields.push(name.into());
                }
            }
            let event = audit.map(|(actor, rule)| AuditEvent {
                record_type: Some("case".into()),
                record_id: Some(id.to_string()),
                fields,
                rule: Some(rule.into()),
                purpose: break_glass_until.map(|_| "break_glass".into()),
                ..actor.event("case.read")
            });
            let file = CaseFile {
                summary: row.summary(),
                opened_by: row.opened_by.clone(),
                facts: row.facts(),
                profile: content.profile.map(Sensitive::new),
                exploitation_details: content.exploitation_details.map(Sensitive::new),
                needs_assessment: content.needs_assessment.map(Sensitive::new),
                notes,
                plan,
                consents,
                calls: linked,
                break_glass_until,
                legal_hold,
                erased_at: row.erased_at,
            };
            Ok((file, event))
        })?;
        if let Some(event) = event {
            self.record_durably(db, event)?;
        }
        Ok(file)
    }
}

// ---------------------------------------------------------------------------------------------
// A case file's children in one query

/// Everything under a case that its file shows: current notes (with their current revision),
/// plan items, consents and linked calls, one `UNION ALL` of four selects in one common row
/// shape, so opening a case is one round trip for all of them instead of four. `$1` is the
/// case id in every branch: PostgreSQL binds it once, and SQLite takes `$1` as one named
/// parameter wherever it appears. Ordered by kind, then each kind's own order (creation, given,
/// start time) and id. Every NULL is cast: PostgreSQL types a `UNION` pair by pair, and a
/// column NULL in the first two branches would be typed text.
macro_rules! children_union {
    ($case:literal) => {
        concat!(
            "SELECT 0 AS kind, n.id AS id, n.author_id AS t1, CAST(NULL AS TEXT) AS t2, \
CAST(NULL AS TEXT) AS t3, CAST(NULL AS TEXT) AS t4, CAST(NULL AS TEXT) AS t5, \
n.created_at AS n1, n.updated_at AS n2, CAST(NULL AS BIGINT) AS n3, n.revision AS v, \
r.body AS x1, CAST(NULL AS BYTEA) AS x2, n.created_at AS s \
FROM case_notes n JOIN case_note_revisions r ON r.note_id = n.id AND r.revision = n.revision \
WHERE n.case_id = ",
            $case,
            " \
UNION ALL \
SELECT 1, id, domain, status, due_on, created_by, CAST(NULL AS TEXT), completed_at, \
updated_at, CAST(NULL AS BIGINT), version, goal, progress, created_at \
FROM case_plan_items WHERE case_id = ",
            $case,
            " \
UNION ALL \
SELECT 2, id, purpose, service_types, organisations, recorded_by, withdrawn_by, given_at, \
expires_at, withdrawn_at, CAST(NULL AS INTEGER), scope, CAST(NULL AS BYTEA), given_at \
FROM case_consents WHERE case_id = ",
            $case,
            " \
UNION ALL \
SELECT 3, id, channel, outcome, CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
started_at, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS INTEGER), \
CAST(NULL AS BYTEA), CAST(NULL AS BYTEA), started_at \
FROM calls WHERE case_id = ",
            $case,
            " \
",
        )
    };
}

pub(super) const CASE_CHILDREN: &str = concat!(children_union!("$1"), "ORDER BY 1, 14, 2");

/// On PostgreSQL, [`CASE_CHILDREN`] as one more column of the query that checks the session and
/// reads the case (`Vault::case_in_session`): an array of rows, correlated on the joined case's
/// id (NULL when there is no case or no child), so opening a case is one round trip for the
/// session, the case, its key and its file. Rows of the shape of [`ChildRow`], in its order.
pub(super) const CASE_CHILDREN_ARRAY: &str = concat!(
    "(SELECT array_agg(ROW(c.kind, c.id, c.t1, c.t2, c.t3, c.t4, c.t5, c.n1, c.n2, c.n3, c.v, \
     c.x1, c.x2) ORDER BY c.kind, c.s, c.id) FROM (",
    children_union!("\"cases\".\"id\""),
    ") AS c)"
);

/// The SQL type of [`CASE_CHILDREN_ARRAY`].
pub(super) type ChildArray = diesel::sql_types::Nullable<
    diesel::sql_types::Array<
        diesel::pg::sql_types::Record<(
            diesel::sql_types::Integer,
            diesel::sql_types::Text,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
            diesel::sql_types::Nullable<diesel::sql_types::Integer>,
            diesel::sql_types::Nullable<diesel::sql_types::Binary>,
            diesel::sql_types::Nullable<diesel::sql_types::Binary>,
        )>,
    >,
>;

/// One element of [`CASE_CHILDREN_ARRAY`].
pub(super) type ChildTuple = (
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i32>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

impl From<ChildTuple> for ChildRow {
    fn from((kind, id, t1, t2, t3, t4, t5, n1, n2, n3, v, x1, x2): ChildTuple) -> Self {
        ChildRow {
            kind,
            id,
            t1,
            t2,
            t3,
            t4,
            t5,
            n1,
            n2,
            n3,
            v,
            x1,
            x2,
        }
    }
}

pub(super) const NOTE: i32 = 0;
pub(super) const PLAN_ITEM: i32 = 1;
pub(super) const CONSENT: i32 = 2;
pub(super) const LINKED_CALL: i32 = 3;

/// One row of [`CASE_CHILDREN`]; what each column holds depends on `kind`.
#[derive(QueryableByName)]
pub(super) struct ChildRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub(super) kind: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(super) id: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub(super) t1: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub(super) t2: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub(super) t3: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub(super) t4: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub(super) t5: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub(super) n1: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub(super) n2: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub(super) n3: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    pub(super) v: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Binary>)]
    pub(super) x1: Option<Vec<u8>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Binary>)]
    pub(super) x2: Option<Vec<u8>>,
}

/// A column the row's table declares NOT NULL.
pub(super) fn present<T>(value: Option<T>) -> Result<T, DbError> {
    value.ok_or_else(|| DbError::Refused("a stored case file row lacks a required column".into()))
}

#[derive(Default)]
pub(super) struct CaseChildren {
    pub(super) notes: Vec<NoteView>,
    pub(super) plan: Vec<PlanItemView>,
    pub(super) consents: Vec<ConsentView>,
    pub(super) calls: Vec<LinkedCall>,
}

impl Vault {
    /// The case's notes, plan items, consents and linked calls. Without a data key (an erased
    /// case) only the linked calls' statistical fields.
    pub(super) fn case_children(
        &self,
        conn: &mut DbConnection,
        dek: Option<&crypto::envelope::DataKey>,
        case_id: &str,
        // The rows, when the case's first query brought them already.
        rows: Option<Vec<ChildRow>>,
    ) -> Result<CaseChildren, DbError> {
        let rows: Vec<ChildRow> = match rows {
            Some(rows) => rows,
            None => Prepared(
                diesel::sql_query(CASE_CHILDREN).bind::<diesel::sql_types::Text, _>(case_id),
            )
            .load(conn)?,
        };
        let now = now_micros();
        let mut children = CaseChildren::default();
        for row in rows {
            let ChildRow {
                kind,
                id,
                t1,
                t2,
                t3,
                t4,
                t5,
                n1,
                n2,
                n3,
                v,
                x1,
                x2,
            } = row;
            let dek = match (kind, dek) {
                (LINKED_CALL, _) => {
                    children.calls.push(LinkedCall {
                        id,
                        started_at: present(n1)?,
                        channel: present(t1)?,
                        outcome: present(t2)?,
                    });
                    continue;
                }
                (_, None) => continue,
                (_, Some(dek)) => dek,
            };
            match kind {
                NOTE => {
                    let revision = present(v)?;
                    let body = open_revision(dek, case_id, &id, revision, &present(x1)?)?;
                    children.notes.push(NoteView {
                        id,
                        author_id: present(t1)?,
                        revision,
                        created_at: present(n1)?,
                        updated_at: present(n2)?,
                        body: Sensitive::new(body),
                    });
                }
                PLAN_ITEM => children.plan.push(self.open_plan_item(
                    dek,
                    PlanRow {
                        id,
                        case_id: case_id.to_string(),
                        domain: present(t1)?,
                        status: present(t2)?,
                        due_on: t3,
                        completed_at: n1,
                        goal: present(x1)?,
                        progress: x2,
                        version: present(v)?,
                        created_by: present(t4)?,
                        updated_at: present(n2)?,
                    },
                )?),
                CONSENT => {
                    let row = ConsentRow {
                        id,
                        purpose: present(t1)?,
                        service_types: present(t2)?,
                        organisations: present(t3)?,
                        scope: x1,
                        given_at: present(n1)?,
                        expires_at: n2,
                        recorded_by: present(t4)?,
                        withdrawn_at: n3,
                        withdrawn_by: t5,
                    };
                    let facts = row.facts();
                    children.consents.push(ConsentView {
                        live: facts.is_live(row.withdrawn_at, now),
                        scope: row
                            .scope
                            .as_ref()
                            .map(|s| {
                                open_text(dek, &ctx("case_consents", "scope", &row.id, case_id), s)
                            })
                            .transpose()?
                            .map(Sensitive::new),
                        facts,
                        id: row.id,
                        recorded_by: row.recorded_by,
                        withdrawn_at: row.withdrawn_at,
                        withdrawn_by: row.withdrawn_by,
                    });
                }
                _ => return Err(DbError::Refused("unknown case file row".into())),
            }
        }
        Ok(children)
    }
}
