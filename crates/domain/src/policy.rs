//! The access policy: one decision point, deny by default (DESIGN.md section 5).
//!
//! Every protected operation asks `authorize(role, action, relation)`. The answer is allowed by
//! a named rule or denied with a reason, and the caller records it in the access log. The rules
//! are one table, [`RULES`], reviewed like code; `docs/access.md` shows it as a matrix generated
//! by [`matrix_markdown`] (a test fails when the document drifts from the table).

use crate::identity::Role;

/// What an actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create a staff account.
    UserCreate,
    /// List staff accounts (no content).
    UserList,
    /// Disable an account.
    UserDisable,
    /// Re-enable an account.
    UserEnable,
    /// Change an account's role.
    UserChangeRole,
    /// Lift a lockout after failed sign-ins.
    UserUnlock,
    /// Remove an account's second factor (a lost phone): they enrol again at their next sign-in.
    UserResetSecondFactor,
    /// Remove every passkey of an account (a lost or stolen device); its sessions end.
    UserRevokePasskeys,
    /// Set an account's e-mail address and language for notifications.
    UserContact,
    /// Read the access log.
    AuditRead,
    /// Run verification of the access log.
    AuditVerify,
    /// Log a call.
    CallCreate,
    /// Read one call, personal fields included.
    CallRead,
    /// Change a call.
    CallUpdate,
    /// List calls (statistical fields only).
    CallList,
    /// Ask whether a phone number called before.
    CallLookup,
    /// Open a case from a call, or link a call to a case (statistical fields only are read).
    CallLinkCase,
    /// Open a case.
    CaseCreate,
    /// Read a case file, personal content included.
    CaseRead,
    /// Change a case: its facts, profile, status, notes, plan and consents.
    CaseUpdate,
    /// Assign or reassign a case to a case worker.
    CaseAssign,
    /// List cases (no personal content).
    CaseList,
    /// Find cases by a victim's name or phone.
    CaseSearch,
    /// Break the glass: read a case one has no other right to, for a short time, flagged.
    CaseBreakGlass,
    /// List and review break-glass uses.
    BreakGlassReview,
    /// Search the service provider directory.
    DirectoryRead,
    /// Maintain the directory (organisations, services, CSV import).
    DirectoryManage,
    /// Draft a referral from a case (with a live consent that covers the provider).
    ReferralCreate,
    /// Draft or send a referral without a consent that covers it, with a written justification.
    ReferralOverride,
    /// Read a referral and its packet.
    ReferralRead,
    /// Send, cancel or reschedule the follow-up of a referral.
    ReferralUpdate,
    /// Accept, decline, start or complete a referral (the provider's side).
    ReferralRespond,
    /// List referrals (a case's, one's due follow-ups, a partner's incoming).
    ReferralList,
    /// Place or lift a legal hold on a case.
    CaseLegalHold,
    /// Download everything held about a case's victim (subject access).
    CaseExport,
    /// Ask for a case to be erased.
    CaseErasureRequest,
    /// Approve or reject an erasure request (never one's own).
    CaseErasureDecide,
    /// Read statistics (disclosure-controlled aggregates; no personal data).
    StatsRead,
    /// See the retention periods and what the next retention run would erase (references and
    /// counts only, no content).
    RetentionRead,
}

impl Action {
    pub const ALL: [Action; 39] = [
        Action::UserCreate,
        Action::UserList,
        Action::UserDisable,
        Action::UserEnable,
        Action::UserChangeRole,
        Action::UserUnlock,
        Action::UserResetSecondFactor,
        Action::UserRevokePasskeys,
        Action::UserContact,
        Action::AuditRead,
        Action::AuditVerify,
        Action::CallCreate,
        Action::CallRead,
        Action::CallUpdate,
        Action::CallList,
        Action::CallLookup,
        Action::CallLinkCase,
        Action::CaseCreate,
        Action::CaseRead,
        Action::CaseUpdate,
        Action::CaseAssign,
        Action::CaseList,
        Action::CaseSearch,
        Action::CaseBreakGlass,
        Action::BreakGlassReview,
        Action::DirectoryRead,
        Action::DirectoryManage,
        Action::ReferralCreate,
        Action::ReferralOverride,
        Action::ReferralRead,
        Action::ReferralUpdate,
        Action::ReferralRespond,
        Action::ReferralList,
        Action::CaseLegalHold,
        Action::CaseExport,
        Action::CaseErasureRequest,
        Action::CaseErasureDecide,
        Action::StatsRead,
        Action::RetentionRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::UserCreate => "user.create",
            Action::UserList => "user.list",
            Action::UserDisable => "user.disable",
            Action::UserEnable => "user.enable",
            Action::UserChangeRole => "user.change_role",
            Action::UserUnlock => "user.unlock",
            Action::UserResetSecondFactor => "user.reset_totp",
            Action::UserRevokePasskeys => "user.revoke_passkeys",
            Action::UserContact => "user.contact",
            Action::AuditRead => "audit.read",
            Action::AuditVerify => "audit.verify",
            Action::CallCreate => "call.create",
            Action::CallRead => "call.read",
            Action::CallUpdate => "call.update",
            Action::CallList => "call.list",
            Action::CallLookup => "call.lookup",
            Action::CallLinkCase => "call.link_case",
            Action::CaseCreate => "case.create",
            Action::CaseRead => "case.read",
            Action::CaseUpdate => "case.update",
            Action::CaseAssign => "case.assign",
            Action::CaseList => "case.list",
            Action::CaseSearch => "case.search",
            Action::CaseBreakGlass => "case.break_glass",
            Action::BreakGlassReview => "break_glass.review",
            Action::DirectoryRead => "directory.read",
            Action::DirectoryManage => "directory.manage",
            Action::ReferralCreate => "referral.create",
            Action::ReferralOverride => "referral.override",
            Action::ReferralRead => "referral.read",
            Action::ReferralUpdate => "referral.update",
            Action::ReferralRespond => "referral.respond",
            Action::ReferralList => "referral.list",
            Action::CaseLegalHold => "case.legal_hold",
            Action::CaseExport => "case.export",
            Action::CaseErasureRequest => "case.erasure.request",
            Action::CaseErasureDecide => "case.erasure.decide",
            Action::StatsRead => "stats.read",
            Action::RetentionRead => "retention.read",
        }
    }
}

/// How the actor relates to the object of the action. Object access is decided by relations,
/// never by comparing an id in the token with an id in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// The action has no particular object (a list, a search, the log as a whole).
    NoObject,
    /// The object is the actor's own account.
    OwnAccount,
    /// The object is another user's account.
    OtherAccount,
    /// A call the actor logged, within the window after it in which its counselor may still
    /// see it (`calls.counselor_window_hours`).
    OwnRecentCall,
    /// A call logged by someone else, or by the actor longer ago than the window.
    OtherCall,
    /// A case assigned to the actor.
    AssignedCase,
    /// A case the actor holds a live break-glass grant for (and no other relation to).
    BreakGlassCase,
    /// Any other case (supervisors see all cases of the organisation).
    OtherCase,
    /// A live referral (sent, accepted or in progress) addressed to the actor's organisation.
    PartnerReferral,
}

impl Relation {
    pub const ALL: [Relation; 9] = [
        Relation::NoObject,
        Relation::OwnAccount,
        Relation::OtherAccount,
        Relation::OwnRecentCall,
        Relation::OtherCall,
        Relation::AssignedCase,
        Relation::BreakGlassCase,
        Relation::OtherCase,
        Relation::PartnerReferral,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::NoObject => "no object",
            Relation::OwnAccount => "own account",
            Relation::OtherAccount => "another account",
            Relation::OwnRecentCall => "a call one logged, within the window",
            Relation::OtherCall => "any other call",
            Relation::AssignedCase => "a case assigned to one",
            Relation::BreakGlassCase => "a case one broke the glass for, within the grant",
            Relation::OtherCase => "any other case",
            Relation::PartnerReferral => "a live referral to one's organisation",
        }
    }
}

/// One allow rule: `role` may do `action` to an object in `relation`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub role: Role,
    pub action: Action,
    pub relation: Relation,
}

const fn rule(name: &'static str, role: Role, action: Action, relation: Relation) -> Rule {
    Rule {
        name,
        role,
        action,
        relation,
    }
}

/// Everything that is allowed. Whatever is not here is denied.
///
/// Separation of duties: admins manage accounts but never case content and never their own
/// role or status (a second admin must); auditors read the log and nothing else.
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    //   name                                role              action                  relation
    rule("admin_creates_users",              Role::Admin,      Action::UserCreate,     Relation::NoObject),
    rule("admin_lists_users",                Role::Admin,      Action::UserList,       Relation::NoObject),
    rule("admin_disables_others",            Role::Admin,      Action::UserDisable,    Relation::OtherAccount),
    rule("admin_enables_others",             Role::Admin,      Action::UserEnable,     Relation::OtherAccount),
    rule("admin_changes_others_roles",       Role::Admin,      Action::UserChangeRole, Relation::OtherAccount),
    rule("admin_unlocks_others",             Role::Admin,      Action::UserUnlock,     Relation::OtherAccount),
    rule("admin_resets_others_second_factor", Role::Admin,     Action::UserResetSecondFactor, Relation::OtherAccount),
    rule("admin_revokes_others_passkeys",    Role::Admin,      Action::UserRevokePasskeys, Relation::OtherAccount),
    rule("admin_sets_own_contact",           Role::Admin,      Action::UserContact,    Relation::OwnAccount),
    rule("admin_sets_others_contact",        Role::Admin,      Action::UserContact,    Relation::OtherAccount),
    rule("auditor_reads_the_log",            Role::Auditor,    Action::AuditRead,      Relation::NoObject),
    rule("auditor_verifies_the_log",         Role::Auditor,    Action::AuditVerify,    Relation::NoObject),
    rule("counselor_logs_calls",             Role::Counselor,  Action::CallCreate,     Relation::NoObject),
    rule("case_worker_logs_calls",           Role::CaseWorker, Action::CallCreate,     Relation::NoObject),
    rule("supervisor_logs_calls",            Role::Supervisor, Action::CallCreate,     Relation::NoObject),
    rule("counselor_reads_own_recent_calls", Role::Counselor,  Action::CallRead,       Relation::OwnRecentCall),
    rule("supervisor_reads_own_calls",       Role::Supervisor, Action::CallRead,       Relation::OwnRecentCall),
    rule("supervisor_reads_all_calls",       Role::Supervisor, Action::CallRead,       Relation::OtherCall),
    rule("counselor_updates_own_recent_calls", Role::Counselor, Action::CallUpdate,   Relation::OwnRecentCall),
    rule("supervisor_updates_own_calls",     Role::Supervisor, Action::CallUpdate,     Relation::OwnRecentCall),
    rule("supervisor_updates_all_calls",     Role::Supervisor, Action::CallUpdate,     Relation::OtherCall),
    rule("counselor_lists_own_recent_calls", Role::Counselor,  Action::CallList,       Relation::NoObject),
    rule("supervisor_lists_all_calls",       Role::Supervisor, Action::CallList,       Relation::NoObject),
    rule("counselor_looks_up_callers",       Role::Counselor,  Action::CallLookup,     Relation::NoObject),
    rule("case_worker_looks_up_callers",     Role::CaseWorker, Action::CallLookup,     Relation::NoObject),
    rule("supervisor_looks_up_callers",      Role::Supervisor, Action::CallLookup,     Relation::NoObject),
    rule("counselor_escalates_own_calls",    Role::Counselor,  Action::CallLinkCase,   Relation::OwnRecentCall),
    rule("case_worker_opens_from_own_calls", Role::CaseWorker, Action::CallLinkCase,   Relation::OwnRecentCall),
    rule("case_worker_opens_from_calls",     Role::CaseWorker, Action::CallLinkCase,   Relation::OtherCall),
    rule("supervisor_opens_from_own_calls",  Role::Supervisor, Action::CallLinkCase,   Relation::OwnRecentCall),
    rule("supervisor_opens_from_calls",      Role::Supervisor, Action::CallLinkCase,   Relation::OtherCall),
    rule("counselor_opens_cases",            Role::Counselor,  Action::CaseCreate,     Relation::NoObject),
    rule("case_worker_opens_cases",          Role::CaseWorker, Action::CaseCreate,     Relation::NoObject),
    rule("supervisor_opens_cases",           Role::Supervisor, Action::CaseCreate,     Relation::NoObject),
    rule("case_worker_reads_assigned_cases", Role::CaseWorker, Action::CaseRead,       Relation::AssignedCase),
    rule("counselor_reads_under_break_glass", Role::Counselor, Action::CaseRead,       Relation::BreakGlassCase),
    rule("case_worker_reads_under_break_glass", Role::CaseWorker, Action::CaseRead,    Relation::BreakGlassCase),
    rule("supervisor_reads_assigned_cases",  Role::Supervisor, Action::CaseRead,       Relation::AssignedCase),
    rule("supervisor_reads_all_cases",       Role::Supervisor, Action::CaseRead,       Relation::OtherCase),
    rule("case_worker_updates_assigned_cases", Role::CaseWorker, Action::CaseUpdate,   Relation::AssignedCase),
    rule("supervisor_updates_assigned_cases", Role::Supervisor, Action::CaseUpdate,    Relation::AssignedCase),
    rule("supervisor_updates_all_cases",     Role::Supervisor, Action::CaseUpdate,     Relation::OtherCase),
    rule("supervisor_assigns_assigned_cases", Role::Supervisor, Action::CaseAssign,    Relation::AssignedCase),
    rule("supervisor_assigns_cases",         Role::Supervisor, Action::CaseAssign,     Relation::OtherCase),
    rule("case_worker_lists_assigned_cases", Role::CaseWorker, Action::CaseList,       Relation::NoObject),
    rule("supervisor_lists_all_cases",       Role::Supervisor, Action::CaseList,       Relation::NoObject),
    rule("case_worker_searches_cases",       Role::CaseWorker, Action::CaseSearch,     Relation::NoObject),
    rule("supervisor_searches_cases",        Role::Supervisor, Action::CaseSearch,     Relation::NoObject),
    rule("counselor_breaks_the_glass",       Role::Counselor,  Action::CaseBreakGlass, Relation::OtherCase),
    rule("case_worker_breaks_the_glass",     Role::CaseWorker, Action::CaseBreakGlass, Relation::OtherCase),
    rule("supervisor_reviews_break_glass",   Role::Supervisor, Action::BreakGlassReview, Relation::NoObject),
    rule("counselor_searches_directory",     Role::Counselor,  Action::DirectoryRead,  Relation::NoObject),
    rule("case_worker_searches_directory",   Role::CaseWorker, Action::DirectoryRead,  Relation::NoObject),
    rule("supervisor_searches_directory",    Role::Supervisor, Action::DirectoryRead,  Relation::NoObject),
    rule("auditor_searches_directory",       Role::Auditor,    Action::DirectoryRead,  Relation::NoObject),
    rule("admin_searches_directory",         Role::Admin,      Action::DirectoryRead,  Relation::NoObject),
    rule("partner_searches_directory",       Role::Partner,    Action::DirectoryRead,  Relation::NoObject),
    rule("admin_maintains_directory",        Role::Admin,      Action::DirectoryManage, Relation::NoObject),
    rule("case_worker_refers_assigned_cases", Role::CaseWorker, Action::ReferralCreate, Relation::AssignedCase),
    rule("supervisor_refers_assigned_cases", Role::Supervisor, Action::ReferralCreate, Relation::AssignedCase),
    rule("supervisor_refers_cases",          Role::Supervisor, Action::ReferralCreate, Relation::OtherCase),
    rule("supervisor_overrides_consent_assigned", Role::Supervisor, Action::ReferralOverride, Relation::AssignedCase),
    rule("supervisor_overrides_consent",     Role::Supervisor, Action::ReferralOverride, Relation::OtherCase),
    rule("case_worker_reads_referrals_of_assigned_cases", Role::CaseWorker, Action::ReferralRead, Relation::AssignedCase),
    rule("supervisor_reads_referrals_of_assigned_cases", Role::Supervisor, Action::ReferralRead, Relation::AssignedCase),
    rule("supervisor_reads_referrals",       Role::Supervisor, Action::ReferralRead,   Relation::OtherCase),
    rule("partner_reads_live_referrals",     Role::Partner,    Action::ReferralRead,   Relation::PartnerReferral),
    rule("case_worker_updates_referrals_of_assigned_cases", Role::CaseWorker, Action::ReferralUpdate, Relation::AssignedCase),
    rule("supervisor_updates_referrals_of_assigned_cases", Role::Supervisor, Action::ReferralUpdate, Relation::AssignedCase),
    rule("supervisor_updates_referrals",     Role::Supervisor, Action::ReferralUpdate, Relation::OtherCase),
    rule("partner_answers_live_referrals",   Role::Partner,    Action::ReferralRespond, Relation::PartnerReferral),
    rule("case_worker_lists_referrals",      Role::CaseWorker, Action::ReferralList,   Relation::NoObject),
    rule("supervisor_lists_referrals",       Role::Supervisor, Action::ReferralList,   Relation::NoObject),
    rule("partner_lists_incoming_referrals", Role::Partner,    Action::ReferralList,   Relation::NoObject),
    rule("supervisor_holds_assigned_cases",  Role::Supervisor, Action::CaseLegalHold,  Relation::AssignedCase),
    rule("supervisor_holds_cases",           Role::Supervisor, Action::CaseLegalHold,  Relation::OtherCase),
    rule("case_worker_exports_assigned_cases", Role::CaseWorker, Action::CaseExport,   Relation::AssignedCase),
    rule("supervisor_exports_assigned_cases", Role::Supervisor, Action::CaseExport,    Relation::AssignedCase),
    rule("supervisor_exports_cases",         Role::Supervisor, Action::CaseExport,     Relation::OtherCase),
    rule("case_worker_requests_erasure",     Role::CaseWorker, Action::CaseErasureRequest, Relation::AssignedCase),
    rule("supervisor_requests_erasure_assigned", Role::Supervisor, Action::CaseErasureRequest, Relation::AssignedCase),
    rule("supervisor_requests_erasure",      Role::Supervisor, Action::CaseErasureRequest, Relation::OtherCase),
    rule("supervisor_decides_erasure",       Role::Supervisor, Action::CaseErasureDecide, Relation::NoObject),
    rule("supervisor_reads_statistics",      Role::Supervisor, Action::StatsRead,      Relation::NoObject),
    rule("admin_reads_statistics",           Role::Admin,      Action::StatsRead,      Relation::NoObject),
    rule("admin_reads_retention",            Role::Admin,      Action::RetentionRead,  Relation::NoObject),
];

/// The answer of [`authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by the named rule.
    Allow(&'static str),
    /// Denied; the reason is a rule-like name for the access log.
    Deny(&'static str),
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// The rule or reason, for the access log.
    pub fn rule(self) -> &'static str {
        match self {
            Decision::Allow(r) | Decision::Deny(r) => r,
        }
    }
}

/// The one decision point. Deny by default.
pub fn authorize(role: Role, action: Action, relation: Relation) -> Decision {
    RULES
        .iter()
        .find(|r| r.role == role && r.action == action && r.relation == relation)
        .map(|r| Decision::Allow(r.name))
        .unwrap_or(Decision::Deny("no_rule_allows"))
}

/// The rules as a Markdown matrix: one row per action and relation, one column per role.
pub fn matrix_markdown() -> String {
    let mut out = String::from("| action | object |");
    for role in Role::ALL {
        out.push_str(&format!(" {} |", role.as_str()));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(Role::ALL.len()));
    out.push('\n');
    for action in Action::ALL {
        for relation in Relation::ALL {
            if !RULES
                .iter()
                .any(|r| r.action == action && r.relation == relation)
            {
                continue;
            }
            out.push_str(&format!("| {} | {} |", action.as_str(), relation.as_str()));
            for role in Role::ALL {
                out.push_str(match authorize(role, action, relation) {
                    Decision::Allow(_) => " allow |",
                    Decision::Deny(_) => " |",
                });
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_by_default_and_separation_of_duties() {
        // Nobody may change their own role or status, whatever their role.
        for role in Role::ALL {
            for action in [
                Action::UserChangeRole,
                Action::UserEnable,
                Action::UserDisable,
                Action::UserUnlock,
                Action::UserResetSecondFactor,
                Action::UserRevokePasskeys,
            ] {
                assert!(
                    !authorize(role, action, Relation::OwnAccount).is_allowed(),
                    "{role} {action:?}"
                );
            }
        }
        // Only auditors read the log; only admins manage accounts.
        for role in Role::ALL {
            assert_eq!(
                authorize(role, Action::AuditRead, Relation::NoObject).is_allowed(),
                role == Role::Auditor
            );
            assert_eq!(
                authorize(role, Action::UserCreate, Relation::NoObject).is_allowed(),
                role == Role::Admin
            );
        }
        assert_eq!(
            authorize(Role::Admin, Action::UserCreate, Relation::NoObject),
            Decision::Allow("admin_creates_users")
        );
        assert_eq!(
            authorize(Role::Counselor, Action::UserList, Relation::NoObject),
            Decision::Deny("no_rule_allows")
        );
        // Auditors and admins never receive case or call content; a break-glass grant only
        // ever lets one read.
        for role in [Role::Auditor, Role::Admin, Role::Partner] {
            for action in [Action::CaseRead, Action::CaseUpdate, Action::CallRead] {
                for relation in Relation::ALL {
                    assert!(
                        !authorize(role, action, relation).is_allowed(),
                        "{role} {action:?}"
                    );
                }
            }
        }
        for rule in RULES
            .iter()
            .filter(|r| r.relation == Relation::BreakGlassCase)
        {
            assert_eq!(rule.action, Action::CaseRead, "{}", rule.name);
        }
    }

    #[test]
    fn every_rule_shows_in_the_matrix() {
        for r in RULES {
            assert!(
                Action::ALL.contains(&r.action),
                "{:?} missing from Action::ALL",
                r.action
            );
            assert!(
                Relation::ALL.contains(&r.relation),
                "{:?} missing from Relation::ALL",
                r.relation
            );
            assert!(matrix_markdown().contains(&format!(
                "| {} | {} |",
                r.action.as_str(),
                r.relation.as_str()
            )));
        }
    }

    #[test]
    fn rule_names_are_unique() {
        let mut names: Vec<_> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
    }

    #[test]
    fn docs_access_md_shows_the_current_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/access.md");
        let doc = std::fs::read_to_string(path).expect("docs/access.md");
        let start = "<!-- matrix:start -->\n";
        let end = "<!-- matrix:end -->";
        let a = doc.find(start).expect("matrix start marker") + start.len();
        let b = doc.find(end).expect("matrix end marker");
        assert_eq!(
            &doc[a..b],
            matrix_markdown(),
            "docs/access.md is out of date: paste the output of `hotline policy matrix` between the markers"
        );
    }
}
