-- Profiles: a display name, and an avatar kept as a file of its own in the media folder (a copy
-- made from an upload, so it outlives the upload and the messages that used it).
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN avatar_name TEXT;
CREATE UNIQUE INDEX users_by_avatar ON users(avatar_name) WHERE avatar_name IS NOT NULL;

-- Pictures: the original's size as shown (orientation applied) and its thumbnail's stored name.
-- `picture_pending` is 1 while a picture's thumbnail is still to be made: the uploads from before
-- this migration, and an upload whose thumbnail a restart interrupted. The backfill takes them in
-- id order, so it resumes where it stopped.
ALTER TABLE attachments ADD COLUMN width INTEGER;
ALTER TABLE attachments ADD COLUMN height INTEGER;
ALTER TABLE attachments ADD COLUMN thumbnail_name TEXT;
ALTER TABLE attachments ADD COLUMN picture_pending INTEGER NOT NULL DEFAULT 0;
UPDATE attachments SET picture_pending = 1
 WHERE content_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp');
CREATE UNIQUE INDEX attachments_by_thumbnail ON attachments(thumbnail_name) WHERE thumbnail_name IS NOT NULL;
CREATE INDEX attachments_pending_pictures ON attachments(id) WHERE picture_pending = 1;
-- Uploads never attached to a message are removed after a day: found by age, then checked
-- against the messages that use them.
CREATE INDEX attachments_by_created ON attachments(created_at);
CREATE INDEX messages_by_attachment ON messages(attachment_id) WHERE attachment_id IS NOT NULL;
