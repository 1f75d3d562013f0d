//! Profiles: a person's display name and avatar (`PATCH /auth/users/me`, SPEC §3 "Profiles,
//! avatars and thumbnails").
//!
//! The avatar is a copy: a 256 × 256 centre crop of an image the caller uploaded, decoded and
//! encoded again (orientation applied, no metadata), stored under a name of its own. So it stays
//! when the upload is swept or its message deleted, and it goes when it is replaced or removed:
//! the old file is removed after the commit that stops naming it. A change is announced as
//! `user_updated` to everyone who shares a room with the person (the fan-out renders it).

use crate::error::{ApiError, ApiResult, Chain};
use crate::input::ProfileChange;
use crate::input::validate::{self, MAX_DISPLAY_NAME_CHARS};
use crate::model::User;
use crate::storage::db::Db;
use crate::storage::db::{attachments, users};
use crate::usecase::auth::Caller;
use crate::usecase::chat::{ChatEvent, Events};
use crate::usecase::pictures::Pictures;

pub struct Profiles {
    db: Db,
    events: Events,
    pictures: Pictures,
}

fn avatar_refused() -> ApiError {
    ApiError::invalid("avatar_attachment_id", "is not an image you uploaded")
}

impl Profiles {
    pub fn new(db: Db, events: Events, pictures: Pictures) -> Profiles {
        Profiles { db, events, pictures }
    }

    /// Change the caller's display name and/or avatar; fields left out stay as they are.
    pub async fn update(&self, caller: Caller, change: ProfileChange) -> ApiResult<User> {
        let display_name = match change.display_name {
            Some(Some(text)) => Some(
                validate::person_name(&text, MAX_DISPLAY_NAME_CHARS)
                    .map_err(|problem| ApiError::invalid("display_name", problem))?,
            ),
            Some(None) => Some(None),
            None => None,
        };
        // The new avatar is made before the write (decoding takes a while, the writer must not
        // wait for it); if the write fails, it is removed again.
        let new_avatar = match change.avatar_attachment_id {
            Some(Some(id)) => Some(Some(self.avatar_from(caller, id).await?)),
            Some(None) => Some(None),
            None => None,
        };
        let made = new_avatar.clone().flatten();
        let events = self.events.clone();
        let written = self
            .db
            .write_then(
                move |conn| {
                    caller.verify(conn)?;
                    let current = users::by_id(conn, caller.id)?.ok_or_else(|| ApiError::not_found("User"))?;
                    let name = display_name.unwrap_or(current.display_name.clone());
                    let avatar = new_avatar.unwrap_or(current.avatar_name.clone());
                    let changed = name != current.display_name || avatar != current.avatar_name;
                    let replaced = users::set_profile(conn, caller.id, name.as_deref(), avatar.as_deref())?.flatten();
                    let user = users::by_id(conn, caller.id)?.ok_or_else(|| ApiError::not_found("User"))?;
                    Ok::<_, ApiError>((user.to_user(), replaced, changed))
                },
                move |(user, _, changed): &(User, Option<String>, bool)| {
                    if *changed {
                        events.publish(ChatEvent::UserUpdated { user_id: user.id });
                    }
                },
            )
            .await;
        match written {
            Ok((user, replaced, _)) => {
                self.pictures.remove_files(replaced.into_iter().collect()).await;
                Ok(user)
            }
            Err(e) => {
                self.pictures.remove_files(made.into_iter().collect()).await;
                Err(e)
            }
        }
    }

    /// An avatar made of upload `id`, which must be an image the caller uploaded that decodes.
    async fn avatar_from(&self, caller: Caller, id: i64) -> ApiResult<String> {
        let upload = self.db.read(move |conn| attachments::get(conn, id)).await?;
        let upload = upload.filter(|u| u.uploader_id == caller.id).ok_or_else(avatar_refused)?;
        self.pictures.make_avatar(upload.stored_name).await.map_err(|e| {
            tracing::info!(attachment = id, reason = %e, "an avatar could not be made");
            match e {
                crate::storage::pictures::PictureError::Io(e) => {
                    ApiError::internal(format!("cannot write an avatar: {}", Chain(&e)))
                }
                _ => ApiError::invalid("avatar_attachment_id", "is not an image that can be read"),
            }
        })
    }
}
