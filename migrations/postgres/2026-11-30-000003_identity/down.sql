DROP TABLE login_throttle;
DROP TABLE recovery_codes;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
