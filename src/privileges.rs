//! --user / --group: the master keeps its identity (it binds, may use port 80 as root);
//! each worker drops to the configured user and group before it serves anything.

use nix::unistd::{Gid, Group, Uid, User, setgid, setgroups, setuid};

/// Whom workers run as, resolved once when the configuration is validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// None: keep the master's user, change only the group.
    pub uid: Option<Uid>,
    pub gid: Gid,
    /// For log lines: "nobody:nogroup".
    pub label: String,
}

impl Credentials {
    /// Looks the names (or numeric ids) up; the error names the flag.
    pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<Option<Credentials>, String> {
        let user = match user {
            None => None,
            Some(name) => Some(lookup_user(name)?),
        };
        let group = match group {
            None => None,
            Some(name) => Some(lookup_group(name)?),
        };
        Ok(match (user, group) {
            (None, None) => None,
            (Some(u), g) => {
                let (gid, gname) = g.unwrap_or_else(|| {
                    let name = Group::from_gid(u.gid)
                        .ok()
                        .flatten()
                        .map_or_else(|| u.gid.to_string(), |g| g.name);
                    (u.gid, name)
                });
                Some(Credentials {
                    uid: Some(u.uid),
                    gid,
                    label: format!("{}:{gname}", u.name),
                })
            }
            (None, Some((gid, gname))) => Some(Credentials {
                uid: None,
                gid,
                label: format!(":{gname}"),
            }),
        })
    }

    /// The (uid, gid) files created for the workers should belong to.
    pub fn owner(&self) -> (u32, u32) {
        (
            self.uid.unwrap_or_else(Uid::current).as_raw(),
            self.gid.as_raw(),
        )
    }

    /// Drops to these credentials for good: supplementary groups first, then the group,
    /// then the user (after setuid the process could no longer change the other two).
    pub fn drop_privileges(&self) -> Result<(), String> {
        setgroups(&[self.gid]).map_err(|e| format!("setgroups([{}]): {e}", self.gid))?;
        setgid(self.gid).map_err(|e| format!("setgid({}): {e}", self.gid))?;
        if let Some(uid) = self.uid {
            setuid(uid).map_err(|e| format!("setuid({uid}): {e}"))?;
            // If regaining root were possible, the drop would not be permanent.
            if uid.as_raw() != 0 && setuid(Uid::from_raw(0)).is_ok() {
                return Err("setuid(0) still works after dropping privileges".into());
            }
        }
        Ok(())
    }
}

fn lookup_user(name: &str) -> Result<User, String> {
    let found = match name.parse::<u32>() {
        Ok(id) => User::from_uid(Uid::from_raw(id)),
        Err(_) => User::from_name(name),
    };
    match found {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(format!("--user {name}: no such user")),
        Err(e) => Err(format!("--user {name}: {e}")),
    }
}

fn lookup_group(name: &str) -> Result<(Gid, String), String> {
    let found = match name.parse::<u32>() {
        Ok(id) => Group::from_gid(Gid::from_raw(id)),
        Err(_) => Group::from_name(name),
    };
    match found {
        Ok(Some(g)) => Ok((g.gid, g.name)),
        Ok(None) => Err(format!("--group {name}: no such group")),
        Err(e) => Err(format!("--group {name}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_ids() {
        assert_eq!(Credentials::resolve(None, None), Ok(None));
        let root = Credentials::resolve(Some("0"), None).unwrap().unwrap();
        assert_eq!(root.uid, Some(Uid::from_raw(0)));
        assert_eq!(root.gid, Gid::from_raw(0));
        assert!(
            Credentials::resolve(Some("no-such-user-x"), None)
                .unwrap_err()
                .starts_with("--user no-such-user-x")
        );
        assert!(
            Credentials::resolve(None, Some("no-such-group-x"))
                .unwrap_err()
                .starts_with("--group no-such-group-x")
        );
    }
}
