//! The schema, kept by hand with types that mean the same on SQLite and PostgreSQL.
//!
//! Conventions: timestamps are BIGINT microseconds since the Unix epoch, UTC (portable, and they
//! sort the same on both backends); identifiers are TEXT.

diesel::table! {
    installation (singleton) {
        singleton -> Integer,
        id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    data_keys (owner_id) {
        owner_id -> Text,
        owner_kind -> Text,
        dek_version -> Integer,
        kek_version -> Nullable<Integer>,
        wrapped -> Nullable<Binary>,
        created_at -> BigInt,
        shredded_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    blind_indexes (table_name, field, value, record_id) {
        table_name -> Text,
        field -> Text,
        value -> BigInt,
        record_id -> Text,
        owner_id -> Text,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        stripe -> Integer,
        stripe_seq -> BigInt,
        occurred_at -> BigInt,
        actor_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        session_ref -> Nullable<Text>,
        mfa -> Bool,
        action -> Text,
        record_type -> Nullable<Text>,
        record_id -> Nullable<Text>,
        fields -> Text,
        purpose -> Nullable<Text>,
        outcome -> Text,
        rule -> Nullable<Text>,
        source -> Nullable<Text>,
        request_id -> Nullable<Text>,
        prev_hash -> Binary,
        hash -> Binary,
    }
}

diesel::table! {
    audit_heads (stripe) {
        stripe -> Integer,
        seq -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    audit_checkpoints (id) {
        id -> BigInt,
        created_at -> BigInt,
        total_events -> BigInt,
        body -> Text,
        signature -> Binary,
    }
}

diesel::joinable!(blind_indexes -> data_keys (owner_id));
diesel::allow_tables_to_appear_in_same_query!(data_keys, blind_indexes);

diesel::table! {
    users (id) {
        id -> Text,
        login -> Text,
        role -> Text,
        organisation_id -> Nullable<Text>,
        password_hash -> Text,
        status -> Text,
        failed_logins -> Integer,
        locked_until -> Nullable<BigInt>,
        totp_secret -> Nullable<Binary>,
        totp_last_step -> Nullable<BigInt>,
        totp_confirmed_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        email -> Nullable<Text>,
        language -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
        mfa -> Bool,
        passkey_id -> Nullable<Text>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        credential_id -> Text,
        name -> Text,
        credential -> Text,
        sign_count -> BigInt,
        backup_eligible -> Bool,
        backup_state -> Bool,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        flagged_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    passkey_ceremonies (id) {
        id -> Text,
        purpose -> Text,
        user_id -> Nullable<Text>,
        state -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(passkeys -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(passkeys, users);

diesel::table! {
    recovery_codes (code_hash) {
        code_hash -> Binary,
        user_id -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Binary,
        session_id -> Text,
        created_at -> BigInt,
        spent_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, sessions, refresh_tokens, recovery_codes);

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        last_failure_at -> BigInt,
    }
}

diesel::table! {
    calls (id) {
        id -> Text,
        counselor_id -> Text,
        channel -> Text,
        direction -> Text,
        started_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        caller_role -> Text,
        topics -> Text,
        region -> Text,
        caller_gender -> Text,
        caller_age_group -> Text,
        language -> Text,
        outcome -> Text,
        case_id -> Nullable<Text>,
        summary -> Nullable<Binary>,
        caller_name -> Nullable<Binary>,
        caller_phone -> Nullable<Binary>,
        version -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
        erased_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    case_counters (year) {
        year -> Integer,
        last_number -> BigInt,
    }
}

diesel::table! {
    cases (id) {
        id -> Text,
        reference -> Text,
        status -> Text,
        assigned_to -> Nullable<Text>,
        opened_by -> Text,
        risk_level -> Text,
        opened_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        gender -> Text,
        age_band -> Text,
        nationality -> Text,
        exploitation_types -> Text,
        control_methods -> Text,
        recruitment -> Text,
        recruitment_countries -> Text,
        transit_countries -> Text,
        exploitation_countries -> Text,
        exploitation_from -> Nullable<Text>,
        exploitation_to -> Nullable<Text>,
        nrm_status -> Text,
        profile -> Nullable<Binary>,
        exploitation_details -> Nullable<Binary>,
        needs_assessment -> Nullable<Binary>,
        version -> Integer,
        updated_at -> BigInt,
        erased_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    case_notes (id) {
        id -> Text,
        case_id -> Text,
        author_id -> Text,
        revision -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    case_note_revisions (note_id, revision) {
        note_id -> Text,
        revision -> Integer,
        author_id -> Text,
        body -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    case_plan_items (id) {
        id -> Text,
        case_id -> Text,
        domain -> Text,
        status -> Text,
        due_on -> Nullable<Text>,
        completed_at -> Nullable<BigInt>,
        goal -> Binary,
        progress -> Nullable<Binary>,
        version -> Integer,
        created_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    case_consents (id) {
        id -> Text,
        case_id -> Text,
        purpose -> Text,
        service_types -> Text,
        organisations -> Text,
        scope -> Nullable<Binary>,
        given_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        recorded_by -> Text,
        withdrawn_at -> Nullable<BigInt>,
        withdrawn_by -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    break_glass_grants (id) {
        id -> Text,
        case_id -> Text,
        user_id -> Text,
        reason -> Text,
        justification -> Binary,
        granted_at -> BigInt,
        expires_at -> BigInt,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<BigInt>,
        review_verdict -> Nullable<Text>,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        recipient_user_id -> Nullable<Text>,
        recipient_address -> Nullable<Text>,
        subject -> Text,
        body -> Text,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        kind -> Text,
        next_attempt_at -> Nullable<BigInt>,
        failed_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(case_notes, case_note_revisions);
diesel::allow_tables_to_appear_in_same_query!(break_glass_grants, cases, users);
diesel::allow_tables_to_appear_in_same_query!(cases, data_keys);
// A request's session check joined to its first query.
diesel::allow_tables_to_appear_in_same_query!(sessions, cases);
diesel::allow_tables_to_appear_in_same_query!(sessions, data_keys);
diesel::allow_tables_to_appear_in_same_query!(users, data_keys);

diesel::table! {
    organisations (id) {
        id -> Text,
        name -> Text,
        notification_email -> Nullable<Text>,
        language -> Text,
        languages -> Text,
        regions -> Text,
        intake_criteria -> Text,
        active -> Bool,
        version -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    services (id) {
        id -> Text,
        organisation_id -> Text,
        service_type -> Text,
        description -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    referrals (id) {
        id -> Text,
        case_id -> Text,
        organisation_id -> Text,
        service_id -> Text,
        service_type -> Text,
        status -> Text,
        consent_id -> Nullable<Text>,
        override_by -> Nullable<Text>,
        override_justification -> Nullable<Binary>,
        packet -> Nullable<Binary>,
        packet_fields -> Text,
        created_by -> Text,
        follow_up_on -> Nullable<Text>,
        follow_up_notified_on -> Nullable<Text>,
        sent_at -> Nullable<BigInt>,
        answer_due_at -> Nullable<BigInt>,
        answered_at -> Nullable<BigInt>,
        partner_note -> Nullable<Binary>,
        first_opened_at -> Nullable<BigInt>,
        last_opened_at -> Nullable<BigInt>,
        ended_at -> Nullable<BigInt>,
        version -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    referral_ledger (id) {
        id -> Text,
        referral_id -> Text,
        case_id -> Text,
        organisation_id -> Text,
        fields -> Text,
        shared_at -> BigInt,
        notice_sent_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(referrals, organisations, services);
diesel::allow_tables_to_appear_in_same_query!(mail_outbox, users);
diesel::allow_tables_to_appear_in_same_query!(referrals, case_consents);
diesel::allow_tables_to_appear_in_same_query!(services, case_consents);
diesel::allow_tables_to_appear_in_same_query!(organisations, case_consents);

diesel::table! {
    legal_holds (id) {
        id -> Text,
        case_id -> Text,
        reason -> Binary,
        placed_by -> Text,
        placed_at -> BigInt,
        lifted_by -> Nullable<Text>,
        lifted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    erasure_requests (id) {
        id -> Text,
        case_id -> Text,
        status -> Text,
        requested_by -> Text,
        requested_at -> BigInt,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(erasure_requests, cases);
diesel::allow_tables_to_appear_in_same_query!(legal_holds, cases);
diesel::allow_tables_to_appear_in_same_query!(calls, cases);
diesel::allow_tables_to_appear_in_same_query!(referrals, data_keys);
