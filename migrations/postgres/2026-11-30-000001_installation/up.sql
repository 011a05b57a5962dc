-- One row naming this installation. Its id is the origin of signed audit checkpoints, so a
-- checkpoint from one installation cannot be passed off as another's.
CREATE TABLE installation (
    singleton INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1),
    id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
