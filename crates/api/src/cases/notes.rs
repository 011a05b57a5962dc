//! Case notes over HTTP: add, edit (the earlier text kept as a revision), history.

use super::*;

/// A new note's id and revision (always 1).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NoteCreated {
    id: String,
    revision: i32,
}

/// A note's revision after an edit.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NoteRevised {
    revision: i32,
}

/// One revision of a note.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RevisionBody<'a> {
    revision: i32,
    author_id: &'a str,
    created_at: String,
    body: &'a str,
}

/// Every revision of a note, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NoteHistory<'a> {
    revisions: Vec<RevisionBody<'a>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "First meeting at the shelter"}))]
pub(crate) struct NoteBody {
    /// Required to edit: the revision read.
    #[serde(default)]
    revision: Option<i32>,
    #[schema(value_type = String)]
    body: Sensitive<String>,
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/notes", tag = "cases", security(("bearer" = [])), request_body = NoteBody,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 201, description = "Added; the note's id", body = NoteCreated), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such case, or not one the actor may change"), (status = 422, description = "Empty or too long")))]
pub(crate) async fn add_note(
    session: Session<Claimed>,
    id: web::Path<String>,
    body: web::Json<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let NoteBody { revision, body } = body.into_inner();
    // Answered after the session's and the case's checks, like the body's own.
    let fresh = match revision {
        Some(_) => Err(AuthError::Invalid {
            field: "revision",
            message: "a new note has none",
        }),
        None => Ok(()),
    };
    let note = session
        .run(move |vault, s, who| {
            Ok(vault.add_note_in_session(&s.db, who.claim(), &s.auth, &id, fresh, body)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(NoteCreated {
        id: note,
        revision: 1,
    }))
}

#[utoipa::path(put, path = "/api/v1/cases/{id}/notes/{note_id}", tag = "cases", security(("bearer" = [])), request_body = NoteBody,
    params(("id" = String, Path, description = "Case id"), ("note_id" = String, Path, description = "Note id")),
    responses((status = 200, description = "Edited (the earlier text is kept as a revision); the new revision", body = NoteRevised),
              (status = 401, description = "Not signed in"), (status = 403, description = "Only the author edits a note"),
              (status = 404, description = "No such note or case"), (status = 409, description = "The note changed since it was read")))]
pub(crate) async fn edit_note(
    session: Session,
    path: web::Path<(String, String)>,
    body: web::Json<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let revision = session
        .run(move |vault, s, actor| {
            let (id, note) = path.into_inner();
            let NoteBody { revision, body } = body.into_inner();
            let revision =
                revision.ok_or_else(|| ApiError::invalid_field("revision", "is required"))?;
            Ok(vault.edit_note(&s.db, actor, &id, &note, revision, body)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(NoteRevised { revision }))
}

#[utoipa::path(get, path = "/api/v1/cases/{id}/notes/{note_id}", tag = "cases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id"), ("note_id" = String, Path, description = "Note id")),
    responses((status = 200, description = "Every revision of the note, oldest first", body = NoteHistory), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such note or case, or not one the actor may see")))]
pub(crate) async fn note_history(
    session: Session,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let revisions = session
        .run(move |vault, s, actor| {
            let (id, note) = path.into_inner();
            Ok(vault.note_history(&s.db, actor, &id, &note)?)
        })
        .await?;
    let revisions = revisions
        .iter()
        .map(|r| RevisionBody {
            revision: r.revision,
            author_id: &r.author_id,
            created_at: rfc3339(r.created_at),
            body: r.body.expose(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(NoteHistory { revisions }))
}
