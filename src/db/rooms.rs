//! rooms (filled by the rooms and media work).
