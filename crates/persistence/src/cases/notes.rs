//! Case notes and their revisions: add, edit with history, read the history.

use super::*;

/// Opens one revision of a note of `case_id` (sealed under the case's key, bound to the note
/// and the revision number).
pub(crate) fn open_revision(
    dek: &crypto::envelope::DataKey,
    case_id: &str,
    note_id: &str,
    revision: i32,
    sealed: &[u8],
) -> Result<String, DbError> {
    let record = format!("{note_id}/{revision}");
    open_text(
        dek,
        &ctx("case_note_revisions", "body", &record, case_id),
        sealed,
    )
}

/// One revision of a note of `case_id`, sealed under the case's key (bound to the note and the
/// revision number).
pub(super) fn seal_revision(
    dek: &crypto::envelope::DataKey,
    case_id: &str,
    (note_id, revision): (&str, i32),
    body: &str,
) -> Result<Vec<u8>, DbError> {
    let record = format!("{note_id}/{revision}");
    Ok(dek.seal(
        &ctx("case_note_revisions", "body", &record, case_id),
        body.as_bytes(),
    )?)
}

/// The insert of a sealed revision.
pub(super) fn revision_insert<'a>(
    sealed: &'a Vec<u8>,
    (note_id, revision): (&'a str, i32),
    author_id: &'a str,
    now: i64,
) -> impl Write + 'a {
    diesel::insert_into(case_note_revisions::table).values((
        case_note_revisions::note_id.eq(note_id),
        case_note_revisions::revision.eq(revision),
        case_note_revisions::author_id.eq(author_id),
        case_note_revisions::body.eq(sealed),
        case_note_revisions::created_at.eq(now),
    ))
}

/// Seals and stores one revision of a note, in the caller's transaction.
pub(super) fn add_revision(
    conn: &mut DbConnection,
    dek: &crypto::envelope::DataKey,
    case_id: &str,
    (note_id, revision): (&str, i32),
    author_id: &str,
    body: &str,
    now: i64,
) -> Result<(), DbError> {
    let sealed = seal_revision(dek, case_id, (note_id, revision), body)?;
    crate::prepared::execute(
        conn,
        &revision_insert(&sealed, (note_id, revision), author_id, now),
    )?;
    Ok(())
}

impl Vault {
    pub(super) fn note_body(
        errors_field: &'static str,
        body: Sensitive<String>,
    ) -> Result<String, AuthError> {
        let mut errors = FieldErrors::new();
        let mut text = body.into_inner();
        domain::cases::required_text(
            &mut errors,
            errors_field,
            &mut text,
            domain::cases::TEXT_MAX_CHARS,
        );
        if errors.is_empty() {
            Ok(text)
        } else {
            Err(AuthError::InvalidMany(errors))
        }
    }

    /// Adds a note to the case's timeline. Returns its id.
    pub fn add_note(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        body: Sensitive<String>,
    ) -> Result<String, AuthError> {
        // Who may is asked before what is wrong: an outsider learns nothing of the input.
        let (_, rule, _, key) =
            self.case_and_key_for(db, actor, Action::CaseUpdate, case_id, true)?;
        let body = Self::note_body("body", body)?;
        self.write_note(db, actor, case_id, rule, key, body)
    }

    /// [`Vault::add_note`] for a request whose session is not checked yet (see
    /// [`Vault::case_in_session`]): the input is answered after the session and the case, its
    /// other checks (`input`: the caller's own) first.
    pub fn add_note_in_session(
        &self,
        db: &Database,
        claim: Claim<'_>,
        settings: &AuthSettings,
        case_id: &str,
        input: Result<(), AuthError>,
        body: Sensitive<String>,
    ) -> Result<String, AuthError> {
        let (actor, _, rule, _, key) =
            self.case_in_session(db, claim, settings, Action::CaseUpdate, case_id)?;
        input?;
        let body = Self::note_body("body", body)?;
        self.write_note(db, &actor, case_id, rule, key, body)
    }

    /// A new note and its first revision, sealed with the case's key (read with the case), and
    /// its event: one statement on PostgreSQL.
    pub(super) fn write_note(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        rule: &'static str,
        key: Option<KeyRow>,
        body: String,
    ) -> Result<String, AuthError> {
        let dek = self.unwrap_data_key(case_id, key)?;
        let id = new_id()?;
        let now = now_micros();
        let event = AuditEvent {
            record_type: Some("case".into()),
            record_id: Some(case_id.to_string()),
            fields: vec!["notes".into()],
            rule: Some(rule.into()),
            ..actor.event("case.note.add")
        };
        db.write_single(|conn| {
            let note = diesel::insert_into(case_notes::table).values((
                case_notes::id.eq(&id),
                case_notes::case_id.eq(case_id),
                case_notes::author_id.eq(&actor.user_id),
                case_notes::revision.eq(1),
                case_notes::created_at.eq(now),
                case_notes::updated_at.eq(now),
            ));
            let sealed = seal_revision(&dek, case_id, (&id, 1), &body)?;
            let revision = revision_insert(&sealed, (&id, 1), &actor.user_id, now);
            // The note and its first revision (one statement on PostgreSQL).
            self.record_with(conn, vec![write(note), write(revision)], &event)
        })?;
        Ok(id)
    }

    /// Edits a note (its author only), keeping every earlier revision. `revision` is the one
    /// read: a stale edit is a `Conflict`. Returns the new revision.
    pub fn edit_note(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        note_id: &str,
        revision: i32,
        body: Sensitive<String>,
    ) -> Result<i32, AuthError> {
        let body = Self::note_body("body", body)?;
        let (_, rule, _) = self.case_for(db, actor, Action::CaseUpdate, case_id)?;
        let author: Option<String> = db.with_conn(|conn| {
            Ok(case_notes::table
                .find(note_id)
                .filter(case_notes::case_id.eq(case_id))
                .select(case_notes::author_id)
                .first(conn)
                .optional()?)
        })?;
        let Some(author) = author else {
            return Err(AuthError::NotFound);
        };
        if author != actor.user_id {
            db.write(|conn| {
                self.record(
                    conn,
                    &AuditEvent {
                        record_type: Some("case".into()),
                        record_id: Some(case_id.to_string()),
                        outcome: crate::Outcome::Denied,
                        rule: Some("only_the_author_edits_a_note".into()),
                        ..actor.event("case.note.edit")
                    },
                )
            })?;
            return Err(AuthError::Forbidden("only_the_author_edits_a_note"));
        }
        let now = now_micros();
        db.write(|conn| {
            let next = revision + 1;
            let updated = diesel::update(
                case_notes::table
                    .find(note_id)
                    .filter(case_notes::revision.eq(revision)),
            )
            .set((
                case_notes::revision.eq(next),
                case_notes::updated_at.eq(now),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(refuse(STALE_ITEM));
            }
            let dek = self.data_key(conn, case_id)?;
            add_revision(
                conn,
                &dek,
                case_id,
                (note_id, next),
                &actor.user_id,
                &body,
                now,
            )?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["notes".into()],
                    rule: Some(rule.into()),
                    ..actor.event("case.note.edit")
                },
            )?;
            Ok(next)
        })
        .map_err(conflict)
    }

    /// Every revision of one note, oldest first.
    pub fn note_history(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        note_id: &str,
    ) -> Result<Vec<NoteRevision>, AuthError> {
        let (_, rule, until) = self.case_for(db, actor, Action::CaseRead, case_id)?;
        let revisions = db.write(|conn| {
            let rows: Vec<(i32, String, i64, Vec<u8>)> = case_note_revisions::table
                .inner_join(case_notes::table.on(case_notes::id.eq(case_note_revisions::note_id)))
                .filter(case_notes::case_id.eq(case_id))
                .filter(case_note_revisions::note_id.eq(note_id))
                .select((
                    case_note_revisions::revision,
                    case_note_revisions::author_id,
                    case_note_revisions::created_at,
                    case_note_revisions::body,
                ))
                .order_by(case_note_revisions::revision)
                .load(conn)?;
            if rows.is_empty() {
                return Ok(None);
            }
            let dek = self.data_key(conn, case_id)?;
            let revisions = rows
                .into_iter()
                .map(|(revision, author_id, created_at, body)| {
                    Ok(NoteRevision {
                        revision,
                        author_id,
                        created_at,
                        body: Sensitive::new(open_revision(
                            &dek, case_id, note_id, revision, &body,
                        )?),
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["notes".into()],
                    rule: Some(rule.into()),
                    purpose: until.map(|_| "break_glass".into()),
                    ..actor.event("case.note.history")
                },
            )?;
            Ok(Some(revisions))
        })?;
        revisions.ok_or(AuthError::NotFound)
    }
}
