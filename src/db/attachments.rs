//! attachments (filled by the rooms and media work).
