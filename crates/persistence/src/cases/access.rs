//! Deciding whether an actor may act on a case: the policy's answer with break-glass grants, from a checked actor or in the session's own query, and what other modules (referrals) need of a case.

use super::*;

impl Vault {
    /// Whether the actor may do `action` to this case, for a page that shows a form about it
    /// before anything is read: a denial is audited, and a missing case and one not the
    /// actor's are alike not found.
    pub fn check_case(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
    ) -> Result<(), AuthError> {
        self.case_for(db, actor, action, id).map(|_| ())
    }

    /// The case and how the actor relates to it, if the policy lets them do `action`; else
    /// `NotFound` (a case that does not exist and one the actor may not touch look the same),
    /// except that a holder of a break-glass grant who tries to change the case learns it is
    /// read-only (`Forbidden`).
    pub(super) fn case_for(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
    ) -> Result<(CaseRow, &'static str, Option<i64>), AuthError> {
        let (row, rule, grant, _) = self.case_and_key_for(db, actor, action, id, false)?;
        Ok((row, rule, grant))
    }

    /// [`Vault::case_for`], and with `with_key` the case's data key row in the same query.
    #[allow(clippy::type_complexity)]
    pub(super) fn case_and_key_for(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
        with_key: bool,
    ) -> Result<(CaseRow, &'static str, Option<i64>, Option<KeyRow>), AuthError> {
        let found: Option<(CaseRow, Relation, Option<i64>, Option<KeyRow>)> =
            db.with_conn(|conn| {
                let row = if with_key {
                    case_with_key(conn, id)?
                } else {
                    cases::table
                        .find(id)
                        .select(CaseRow::as_select())
                        .first(conn)
                        .optional()?
                        .map(|row| (row, None))
                };
                let Some((row, key)) = row else {
                    return Ok(None);
                };
                let (relation, grant) = policy_relation(conn, actor, &row, action, now_micros())?;
                Ok(Some((row, relation, grant, key)))
            })?;
        self.decide_case(db, actor, action, id, found)
    }

    /// The policy's decision on a case found (or not) with the actor's relation to it: the
    /// decision is in the access log; a denial answers as if the case did not exist (a
    /// break-glass grant's read-only denial aside), and an erased case cannot change.
    #[allow(clippy::type_complexity)]
    pub(super) fn decide_case(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
        found: Option<(CaseRow, Relation, Option<i64>, Option<KeyRow>)>,
    ) -> Result<(CaseRow, &'static str, Option<i64>, Option<KeyRow>), AuthError> {
        let Some((row, relation, grant, key)) = found else {
            return Err(AuthError::NotFound);
        };
        match self.authorize(db, actor, action, relation, Some(("case", id))) {
            Ok(_)
                if row.erased_at.is_some()
                    && !matches!(action, Action::CaseRead | Action::ReferralRead) =>
            {
                Err(AuthError::Conflict(ERASED))
            }
            Ok(rule) => Ok((row, rule, grant, key)),
            Err(AuthError::Forbidden(r)) if relation == Relation::BreakGlassCase => {
                Err(AuthError::Forbidden(r))
            }
            Err(AuthError::Forbidden(_)) => Err(AuthError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// The session check and the case with its data key in one query (DESIGN.md section 9:
    /// one query for session and record), then the policy's decision on `action` as
    /// [`Vault::case_and_key_for`] makes it. Nothing of the case is used before the session is
    /// found valid and allowed to work (401 and 403 come first, as with
    /// [`Vault::authenticate`]); the case's row, read in the same query, is ciphertext and facts
    /// and is dropped unused otherwise.
    #[allow(clippy::type_complexity)]
    pub(super) fn case_in_session(
        &self,
        db: &Database,
        claim: Claim<'_>,
        settings: &AuthSettings,
        action: Action,
        id: &str,
    ) -> Result<(Actor, CaseRow, &'static str, Option<i64>, Option<KeyRow>), AuthError> {
        let (actor, row, rule, grant, key, _) =
            self.case_in_session_with(db, claim, settings, action, id, false)?;
        Ok((actor, row, rule, grant, key))
    }

    /// [`Vault::case_in_session`], and with `children` on PostgreSQL the case file's notes,
    /// plan items, consents and linked calls in the same query ([`CASE_CHILDREN_ARRAY`];
    /// `None` on SQLite, where the file's own query is in process and costs no round trip).
    #[allow(clippy::type_complexity)]
    pub(super) fn case_in_session_with(
        &self,
        db: &Database,
        claim: Claim<'_>,
        settings: &AuthSettings,
        action: Action,
        id: &str,
        children: bool,
    ) -> Result<
        (
            Actor,
            CaseRow,
            &'static str,
            Option<i64>,
            Option<KeyRow>,
            Option<Vec<ChildRow>>,
        ),
        AuthError,
    > {
        let now = now_micros();
        let (actor, last_seen, found, rows) = db.with_conn(|conn| {
            let (row, rows) = session_and_case(conn, claim, id, children)?;
            let (session, case, key) = match row {
                Some((session, case, key)) => (Some(session), case, key),
                None => (None, None, None),
            };
            let (actor, last_seen) = match self.session_actor(
                settings,
                claim.session_id,
                Some(claim.user_id),
                session,
                now,
            )? {
                Ok(valid) => valid,
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = actor.may_work() {
                return Ok(Err(e));
            }
            let found = match case {
                Some(row) => {
                    let (relation, grant) = policy_relation(conn, &actor, &row, action, now)?;
                    Some((row, relation, grant, key))
                }
                None => None,
            };
            Ok(Ok((actor, last_seen, found, rows)))
        })??;
        self.touch_session(db, claim.session_id, last_seen, now)?;
        let (row, rule, grant, key) = self.decide_case(db, &actor, action, id, found)?;
        Ok((actor, row, rule, grant, key, rows))
    }
}

/// A case as a referral's creation needs it (see [`Vault::case_for_referral`]).
pub(crate) struct CaseForReferral {
    pub access: CaseAccess,
    pub facts: CaseFacts,
    pub profile: Option<VictimProfile>,
    pub dek: crypto::envelope::DataKey,
}

/// What other modules need of a case the actor may act on.
pub(crate) struct CaseAccess {
    pub rule: &'static str,
    pub reference: String,
    /// How the actor relates to the case (break-glass aside), for a further policy question.
    pub relation: Relation,
}

impl Vault {
    /// The policy's answer for `action` on a case, as for the case's own routes (404 for a case
    /// the actor may not touch).
    pub(crate) fn case_access(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
    ) -> Result<CaseAccess, AuthError> {
        let (row, rule, _) = self.case_for(db, actor, action, id)?;
        Ok(CaseAccess {
            rule,
            relation: row.relation_to(actor),
            reference: row.reference,
        })
    }

    /// What a referral's creation needs of its case: the policy's answer for creating one, the
    /// clear facts, the opened profile and the case's data key, from the case and its key read
    /// in one query.
    pub(crate) fn case_for_referral(
        &self,
        db: &Database,
        actor: &Actor,
        id: &str,
    ) -> Result<CaseForReferral, AuthError> {
        let (row, rule, _, key) =
            self.case_and_key_for(db, actor, Action::ReferralCreate, id, true)?;
        self.opened_for_referral(actor, row, rule, key)
    }

    /// [`Vault::case_for_referral`] for a request whose session is not checked yet (see
    /// [`Vault::case_in_session`]).
    pub(crate) fn case_for_referral_in_session(
        &self,
        db: &Database,
        claim: Claim<'_>,
        settings: &AuthSettings,
        id: &str,
    ) -> Result<(Actor, CaseForReferral), AuthError> {
        let (actor, row, rule, _, key) =
            self.case_in_session(db, claim, settings, Action::ReferralCreate, id)?;
        let case = self.opened_for_referral(&actor, row, rule, key)?;
        Ok((actor, case))
    }

    pub(super) fn opened_for_referral(
        &self,
        actor: &Actor,
        row: CaseRow,
        rule: &'static str,
        key: Option<KeyRow>,
    ) -> Result<CaseForReferral, AuthError> {
        let dek = self.unwrap_data_key(&row.id, key)?;
        let content = self.open_content(&dek, &row)?;
        Ok(CaseForReferral {
            facts: row.facts(),
            profile: content.profile,
            dek,
            access: CaseAccess {
                rule,
                relation: row.relation_to(actor),
                reference: row.reference,
            },
        })
    }
}
