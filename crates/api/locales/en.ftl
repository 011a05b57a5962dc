# hotline web pages, English. Every key here must also be in uk.ftl (a test compares them).
app-name = hotline
skip-to-content = Skip to the content
nav-label = Main
nav-desk = Call desk
nav-cases = My cases
sign-out = Sign out
quick-exit = Quick exit
quick-exit-help = Quick exit (the red button, or Esc twice) blanks this page at once and opens a neutral site. Earlier pages may still be in this browser's history: on a shared device use a private window.
idle-warning = You will be signed out in a minute for inactivity. Save or send a form to stay signed in.
sign-in-title = Sign in
shared-device-notice = On a shared or public device, use a private window and sign out when you finish.
sign-in = Sign in
field-login = Login
field-password = Password
field-code = One-time code
field-code-help = From your authenticator app, or a recovery code; leave empty if your account has no second factor.
sign-in-failed = The login, password or code is not correct, or this account cannot sign in now.
sign-in-code-needed = This account needs its one-time code: enter the login, password and code.
sign-in-throttled = Too many failed attempts.
wait-seconds = { $count ->
    [one] Try again in { $count } second.
   *[other] Try again in { $count } seconds.
}
error-status = Status
error-request-id = Request id:
error-home = Back to the start
error-forbidden = This is not allowed
error-not-found = Not found
error-conflict = Someone changed this meanwhile
error-too-large = Too much was sent
error-invalid = Some fields are not valid
error-too-many = Too many attempts
error-unavailable = The service is not available right now
error-internal = Something went wrong
error-bad-request = The request was not understood
desk-title = New call
call-timer = Call duration
case-opened-as = A case is open:
call-saved = The call is saved.
form-has-errors = Please correct these fields:
field-invalid = Check this field.
field-form = Form
field-channel = Channel
field-direction = Direction
field-caller-role = Caller
field-caller-gender = Caller's gender
field-caller-age-group = Caller's age group
field-language = Language of the call
field-outcome = Outcome
field-region = Region
field-topics = Topics
field-started-at = Start of the call
field-ended-at = End of the call
caller-details = Caller's details
anonymous-by-default = The call is anonymous unless you fill in these fields (stored encrypted).
field-caller-phone = Caller's phone number
field-caller-name = Caller's name
field-summary = Summary
field-summary-help = Stored encrypted; only staff who may open this call can read it.
save-call = Save the call
save-and-open-case = Save and open a case
lookup-invalid = That is not a phone number yet.
lookup-none = No earlier calls from this number.
lookup-known = Known number:
lookup-last = the last on
calls-count = { $count ->
    [one] { $count } call
   *[other] { $count } calls
}
nav-calls = My shift's calls
calls-title = My shift's calls
calls-title-all = Calls
calls-window = { $count ->
    [one] Calls you logged in the last hour.
   *[other] Calls you logged in the last { $count } hours.
}
calls-any = All
calls-filter = Filter
calls-clear = Clear the filters
calls-none = No calls match.
calls-started = Started (UTC)
calls-case = Case
calls-case-linked = Linked
calls-next = Older calls
field-from = From (day)
field-to = To (day, included)
field-topic = Topic
cases-count = { $count ->
    [one] { $count } case
   *[other] { $count } cases
}
cases-follow-up = Next follow-up
cases-overdue = overdue
cases-title = My cases
cases-none = You have no cases yet.
cases-next = Older cases
case-reference = Reference
case-status = Status
case-risk = Risk
case-opened = Opened
answer-yes = yes
answer-no = no
form-conflict = Someone changed this record after you opened it. Nothing was saved; what you typed is below. Open the record again in a new tab to see the change, then save your text again.
one-per-line = One per line.
countries-help = Country codes (ISO 3166), separated by spaces: UA PL DE.
case-title = Case
case-back = Back to the case
case-sections = Sections of the case
case-facts = Facts
case-profile = Person
case-narrative = Narrative
case-notes = Notes
case-plan = Reintegration plan
case-consents = Consents
case-calls = Linked calls
case-referrals = Referrals
case-edit = Edit the case
case-save = Save the case
case-saved = Saved.
case-erased = This case's personal content was erased; only its statistical facts remain.
field-status = Status
field-risk-level = Risk
field-gender = Gender
field-age-band = Age band
field-nationality = Nationality
field-recruitment = Recruitment
field-nrm-status = National referral mechanism
field-exploitation-types = Forms of exploitation
field-control-methods = Means of control
field-recruitment-countries = Countries of recruitment
field-transit-countries = Countries of transit
field-exploitation-countries = Countries of exploitation
field-exploitation-from = Exploitation from (month)
field-exploitation-to = Exploitation until (month)
field-given-name = Given name
field-family-name = Family name
field-other-names = Other names
field-birth-date = Date of birth
field-languages = Languages
field-safe-contact = Safe contact: when and how
field-phones = Phone numbers
field-email = E-mail
field-address = Address
field-documents = Documents
field-exploitation-details = What happened
field-needs-assessment = Needs assessment
field-profile = Person
field-note = Note
field-plan-domain = Area
field-plan-goal = Goal
field-plan-status = Progress
field-due-on = Due on
field-progress-note = Progress note
field-consent-purpose = Purpose
field-service-types = Services it covers
field-consent-scope = What the person agreed to, in their words
field-expires-at = Expires on
field-service = Service
field-service-type = Type of service
field-safety-needs = Safety needs to pass on
field-health-needs = Health needs to pass on
field-follow-up-on = Follow up on
field-override-justification = Supervisor: reason to refer without a consent
field-reason = Reason
field-justification = Why, in your words
field-version = Version
safe-contact-help = Always read this before contacting the person. Stored encrypted.
safe-contact-missing = No safe-contact instructions yet: do not contact the person until they are recorded.
document-kind = Document
document-number = Number
document-status = Where it is
note-add = Add the note
note-edit = Edit
note-save = Save the note
note-edited = edited
note-history = Note history
note-revision = Revision
plan-none = No plan items yet.
plan-add = Add a plan item
plan-update = Update
plan-save = Save
consents-none = No consents recorded.
consent-add = Record a consent
consent-given = Given
consent-state = State
consent-live = In force
consent-withdrawn = Withdrawn
consent-expired = Expired
consent-withdraw = Withdraw
referrals-show = Show the referrals
referrals-none = No referrals yet.
referral-new = New referral
referral-title = Referral
referral-status = Status
referral-opened = Opened by the partner
referral-preview = Prepare and preview
referral-send = Send to the partner
referral-cancel = Cancel the referral
referral-draft = Draft: not sent
referral-sent = Sent
referral-accepted = Accepted
referral-declined = Declined
referral-in-progress = In progress
referral-completed = Completed
referral-cancelled = Cancelled
referral-revoked = Revoked
referral-expired = Expired
directory-search = Find providers
directory-none = No active provider offers this service here.
override-help = Only a supervisor may refer without a consent that covers the provider; the reason is recorded and reviewed.
packet-title = What the partner will see
packet-preview = Not sent yet. This is exactly what the partner will see; check it, then send.
packet-gone = The packet is no longer available (the referral ended).
packet-never-contact = Contact details are never sent: the partner reaches the person through you.
break-glass-title = Emergency access
break-glass-help = Emergency access opens this case read-only for a short time. Your reason is recorded and a supervisor reviews it.
break-glass-open = Open the case (read-only)
break-glass-banner = Emergency access: read-only.
break-glass-until = Ends at
error-break-glass = Request emergency access to this case
error-reload = Open it again
enrol-title = Set up your second factor
enrol-scan = Scan this code with your authenticator app, then enter the code it shows.
enrol-qr = QR code for your authenticator app
enrol-secret = Or type this key into the app:
enrol-again = Show a new code to scan
enrol-confirm = Confirm
enrolled-title = Your recovery codes
recovery-once = Write these codes down and keep them somewhere safe. Each signs you in once if you lose your phone. They are shown only now.
enrolled-continue = I have saved them: continue
nav-referrals = Referrals
referrals-title = Referrals
referrals-back = Back to the referrals
packet-title-partner = The referral packet
referral-partner-note = The provider's answer
referral-accept = Accept the referral
referral-decline = Decline, with a reason
referral-start = Start the support
referral-complete = Report the outcome and close
nav-audit = Access log
audit-title = Access log
audit-help = Every access to a record, allowed or denied: who, which record and which fields by name, under which rule. Never the content.
audit-none = No events match.
audit-count = { $count ->
    [one] { $count } event
   *[other] { $count } events
}
audit-event = Event
audit-at = Time (UTC)
audit-record = Record
audit-fields = Fields
audit-rule = Rule
audit-mfa = second factor
audit-allowed = allowed
audit-denied = denied
audit-older = Older events
audit-record-title = Who touched this record
audit-anomalies-title = Anomalies
anomaly-heavy-readers = Many record reads
anomaly-denial-bursts = Many denials
anomaly-break-glass = Break-glass uses
anomaly-odd-hours = Sign-ins at unusual hours
anomaly-none = Nothing in this window.
anomaly-reads = { $count ->
    [one] { $count } read
   *[other] { $count } reads
}
anomaly-denials = { $count ->
    [one] { $count } denial
   *[other] { $count } denials
}
audit-verify-title = Verify the log
audit-verify-help = Recomputes every link of every chain of the log and checks every signed checkpoint, as hotline audit verify does. A deleted, changed or reordered event breaks the chain at that event.
audit-verify-run = Verify now
audit-verify-ok = The log is intact.
audit-verify-broken = { $count ->
    [one] The log is broken: { $count } problem.
   *[other] The log is broken: { $count } problems.
}
audit-verify-first = The first break is at
audit-verify-events = { $count ->
    [one] { $count } event checked
   *[other] { $count } events checked
}
audit-verify-checkpoints = { $count ->
    [one] { $count } checkpoint checked
   *[other] { $count } checkpoints checked
}
field-actor = Actor (user id)
field-action = Action
field-record-type = Record type
field-record-id = Record id
field-hours = Hours back
field-before = Before event
case-supervision = Supervision
case-unassigned = Unassigned
case-assign = Assign
field-assigned-to = Case worker
field-hold-reason = Reason for the legal hold
hold-on = This case is under a legal hold: retention and erasure skip it.
hold-place = Place a legal hold
hold-lift = Lift the legal hold
erasure-ask = Ask to erase this case
erasure-help = Another supervisor must approve. Erasure shreds the person's data, the notes and the packets for good; only the statistical facts remain.
nav-break-glass = Break-glass
nav-erasures = Erasures
queue-waiting = Show only those waiting
queue-all = Show all, decided ones too
grants-title = Break-glass uses to review
grants-none = No break-glass use is waiting for review.
grants-erased = The case was erased.
grants-granted = Access
grants-reviewed = Reviewed
grants-flagged = flagged for follow-up
grants-justified = justified
grants-approve = Justified
grants-flag = Flag for follow-up
erasures-title = Erasure requests
erasures-help = Erasure needs two people: you cannot decide a request you made. Approving shreds the person's data, the notes and the packets of the case for good.
erasures-none = No erasure request is waiting.
erasures-requested = Requested
erasures-decision = Decision
erasures-pending = Waiting
erasures-approved = Approved: erased
erasures-rejected = Rejected
erasures-approve = Approve and erase
erasures-reject = Reject
cases-title-all = All cases
cases-assigned-me = Mine
field-assigned = Assigned
nav-stats = Statistics
stats-title = Statistics
stats-show = Show the period
stats-report = Printable report
stats-k = Every count below { $count } is suppressed, and others where needed so that none can be worked out.
stats-suppressed = suppressed
stats-total = Total
stats-cases-by-status = Cases by status
stats-cases-by-gender-and-age = Cases by gender and age
stats-referrals-by-service = Referrals by service and status
stats-plan-items = Reintegration plan items by area and status
nav-follow-ups = Overdue
follow-ups-title = Overdue follow-ups
follow-ups-help = Cases with an open plan item or a referral's follow-up past its day, the most overdue first.
nav-users = Staff accounts
nav-directory = Service directory
role-counselor = Counselor
role-case-worker = Case worker
role-supervisor = Supervisor
role-auditor = Auditor
role-admin = Administrator
role-partner = Partner organisation
field-role = Role
field-organisation = Organisation (partners only)
field-first-password = First passphrase
users-title = Staff accounts
users-new = New account
users-create = Create the account
users-organisation-help = The directory code of the partner's organisation; empty for hotline staff.
users-count = { $count ->
    [one] { $count } account
   *[other] { $count } accounts
}
users-state = State
users-actions = Actions
users-active = active
users-disabled = disabled
users-locked = locked out
users-totp = second factor set
users-no-totp = no second factor
users-disable = Disable
users-enable = Enable
users-unlock = Unlock
users-reset-totp = Reset the second factor
users-change-role = Change the role
users-yourself = Your own account: another admin changes it.
users-created = The account is created. Give the first passphrase in person; they change it at their first sign-in.
users-changed = Saved. Their sessions ended where the change needs it.
directory-title = Service directory
directory-imported = The directory is imported.
directory-import = Import a CSV
directory-import-help = One row per service, with the header organisation,name,notification_email,language,languages,regions,intake_criteria,active,service_type,description; lists separated by semicolons. You see what will change before anything is saved.
directory-import-bad = Nothing was read: these rows are wrong.
directory-import-preview = Preview the changes
directory-import-save = Save these changes
directory-import-cancel = Cancel
directory-preview = What the import will change
directory-new = new organisation
directory-unchanged = no change
directory-changes = changes:
directory-services-added = services added:
directory-services-removed = services removed:
directory-count = { $count ->
    [one] { $count } organisation
   *[other] { $count } organisations
}
directory-export = Download the directory as CSV
field-csv-file = A CSV file
field-csv = Or the CSV's text
field-organisation-name = Organisation
field-notification-email = Notification address
field-notification-language = Notification language
field-regions = Regions
field-intake-criteria = Intake criteria
field-active = Active
field-services = Services
nav-retention = Retention
retention-title = Retention
retention-help = How long personal data is kept. The periods are the deployment's configuration ([retention] in the configuration file, or HOTLINE__RETENTION__* variables): changing them is a reviewed change of the deployment, not a click. The server applies them every retention.run_every_minutes (an hour unless set); statistical facts are kept.
retention-calls = Details of calls that led to no case
retention-cases = A closed case's personal data
retention-audit = Access-log events (reported; the log is append-only)
retention-months = { $count ->
    [one] { $count } month after the call
   *[other] { $count } months after the call
}
retention-years = { $count ->
    [one] { $count } year
   *[other] { $count } years
}
retention-next = What the next run would erase now
retention-plan-calls = { $count ->
    [one] the details of { $count } call
   *[other] the details of { $count } calls
}
retention-plan-cases = { $count ->
    [one] { $count } closed case
   *[other] { $count } closed cases
}
retention-plan-held = { $count ->
    [one] { $count } case skipped under a legal hold
   *[other] { $count } cases skipped under a legal hold
}
retention-plan-audit = { $count ->
    [one] { $count } access-log event past its period (kept)
   *[other] { $count } access-log events past their period (kept)
}
stats-chart-calls-by-topic = Calls per month by topic
stats-chart-cases-by-exploitation = Cases by form of exploitation
stats-chart-referral-funnel = Referrals by status
stats-cases = Cases
stats-chart-suppressed = suppressed (fewer than { $count } or protecting one)
stats-chart-note = * some counts suppressed (below { $count } or protecting one)
grants-justification = Their justification
packet-never-contact-partner = Contact details are never sent: you reach the person through the hotline's case worker.
nav-cases-all = All cases
sign-in-passkey-title = Or sign in with a passkey
sign-in-passkey-help = Enter your login above, then use your passkey (your device's fingerprint, face or PIN, or a security key).
sign-in-passkey = Sign in with a passkey
sign-in-passkey-failed = The passkey sign-in did not work. Try again; if your passkey is lost, sign in with the password and a recovery code.
sign-in-passkey-required = This account signs in with its passkey: use the passkey button. If the passkey is lost, enter the password and a recovery code as the code.
nav-passkeys = Passkeys
passkeys-title = Your passkeys
passkeys-help = A passkey signs you in with this device's fingerprint, face or PIN, or a security key, and only on this hotline's address: a fake site cannot use it. Keep two (for example a laptop and a phone) and your recovery codes.
passkeys-required = Your role signs in with a passkey. Add one now: until then nothing else opens.
passkeys-none = You have no passkey yet.
passkeys-count = { $count ->
    [one] { $count } passkey
   *[other] { $count } passkeys
}
passkeys-added-at = Added (UTC)
passkeys-last-used = Last used (UTC)
passkeys-never = never
passkeys-flagged = blocked: its counter went backwards (a copied key?); remove it
passkeys-synced = synced between devices
passkeys-device = this device only
passkeys-rename = Rename
passkeys-remove = Remove
passkeys-add = Add a passkey
passkeys-name-help = So you can tell them apart, for example "work laptop". Optional.
passkeys-unsupported = This browser cannot use passkeys (or its script is off). Use a current browser to add one.
passkeys-failed = No passkey was added: it was cancelled, took too long, or the device refused. Try again.
passkeys-added = The passkey is added.
passkeys-renamed = The passkey is renamed.
passkeys-removed = The passkey is removed. Sessions that signed in with it have ended.
field-passkey-name = Passkey name
field-passkey = Passkey
users-passkeys = { $count ->
    [one] { $count } passkey
   *[other] { $count } passkeys
}
users-revoke-passkeys = Revoke the passkeys
