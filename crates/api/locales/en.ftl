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
error-enrol = Set up your second factor first
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
cases-count = { $count ->
    [one] { $count } case
   *[other] { $count } cases
}
cases-title = My cases
cases-none = You have no cases yet.
cases-next = Older cases
case-reference = Reference
case-status = Status
case-risk = Risk
case-opened = Opened
