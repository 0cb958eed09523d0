//! The behaviours every store must have. Each uses fresh handles and users, so they
//! can also run one after another on one store.

use super::*;

pub async fn a_stored_session_is_read_back_by_its_handle_only(fixture: &Fixture) {
    let store = &fixture.store;
    let (handle, session) = (handle(), session_of(&unique("user"), 3600));
    store.put_session(&handle, &session).await.unwrap();
    assert_eq!(store.get_session(&handle).await.unwrap(), Some(session));
    assert_eq!(store.get_session(&super::handle()).await.unwrap(), None);
}

pub async fn an_update_replaces_the_session_but_not_a_missing_one(fixture: &Fixture) {
    let store = &fixture.store;
    let (handle, session) = (handle(), session_of(&unique("user"), 3600));
    store.put_session(&handle, &session).await.unwrap();
    let mut refreshed = session.clone();
    refreshed.access_token = Secret::new(unique("at2"));
    assert!(store.update_session(&handle, &refreshed).await.unwrap());
    assert_eq!(
        store.get_session(&handle).await.unwrap(),
        Some(refreshed.clone())
    );
    assert!(
        !store
            .update_session(&super::handle(), &refreshed)
            .await
            .unwrap()
    );
}

pub async fn a_deleted_session_is_returned_once_then_gone(fixture: &Fixture) {
    let store = &fixture.store;
    let (handle, session) = (handle(), session_of(&unique("user"), 3600));
    store.put_session(&handle, &session).await.unwrap();
    assert_eq!(store.delete_session(&handle).await.unwrap(), Some(session));
    assert_eq!(store.get_session(&handle).await.unwrap(), None);
    assert_eq!(store.delete_session(&handle).await.unwrap(), None);
}

pub async fn a_session_ends_at_its_expiry(fixture: &Fixture) {
    let store = &fixture.store;
    let (handle, session) = (handle(), session_of(&unique("user"), 2));
    store.put_session(&handle, &session).await.unwrap();
    assert!(store.get_session(&handle).await.unwrap().is_some());
    let ends = std::time::UNIX_EPOCH + Duration::from_secs(session.expires_at as u64);
    // Waits for the event (the record is gone), then checks its order: not before
    // the session's expiry (whole seconds, so a Redis TTL may round up, never down).
    let gone_at = until("the session ends", || async {
        store.get_session(&handle).await.unwrap().is_none()
    })
    .await;
    assert!(
        gone_at + Duration::from_secs(1) >= ends,
        "ended before its expiry"
    );
    assert!(
        !store
            .active_users()
            .await
            .unwrap()
            .contains(&session.user_id)
    );
}

pub async fn a_rotated_session_answers_on_the_old_handle_only_during_the_grace(fixture: &Fixture) {
    let store = &fixture.store;
    let (old, new, session) = (handle(), handle(), session_of(&unique("user"), 3600));
    store.put_session(&old, &session).await.unwrap();
    let mut rotated = session.clone();
    rotated.refresh_token = Some(Secret::new(unique("rt2")));
    store
        .rotate_session(&old, &new, &rotated, Duration::from_secs(60))
        .await
        .unwrap();
    // Each handle links to the other, so that ending the session on one ends both.
    let current = Session {
        grace_links: vec![old.key()],
        ..rotated.clone()
    };
    assert_eq!(
        store.get_session(&new).await.unwrap(),
        Some(current.clone())
    );
    let read_only = Session {
        refresh_token: None,
        caller_refresh_token: None,
        grace_links: vec![new.key()],
        ..rotated.clone()
    };
    assert_eq!(
        store.get_session(&old).await.unwrap(),
        Some(read_only),
        "old handle works in the grace, read-only"
    );
    // The same rotation with a short grace: the old handle ends (an event waited
    // for), never before the grace, and the new one stays.
    let (old, new) = (handle(), handle());
    store.put_session(&old, &session).await.unwrap();
    let grace = Duration::from_millis(200);
    let rotating = std::time::SystemTime::now();
    store
        .rotate_session(&old, &new, &rotated, grace)
        .await
        .unwrap();
    let gone_at = until("the old handle ends after the grace", || async {
        store.get_session(&old).await.unwrap().is_none()
    })
    .await;
    assert!(
        whole_ms_between(rotating, gone_at) >= grace.as_millis(),
        "old handle ended before the grace"
    );
    let current = Session {
        grace_links: vec![old.key()],
        ..rotated.clone()
    };
    assert_eq!(store.get_session(&new).await.unwrap(), Some(current));
    assert!(
        store
            .active_users()
            .await
            .unwrap()
            .contains(&rotated.user_id)
    );
}

pub async fn a_state_is_taken_only_once_even_concurrently(fixture: &Fixture) {
    let store = &fixture.store;
    let (state, record) = (unique("state"), state_record());
    store.put_state(&state, &record).await.unwrap();
    let takes = (0..10).map(|_| {
        let (store, state) = (store.clone(), state.clone());
        tokio::spawn(async move { store.take_state(&state).await.unwrap() })
    });
    let taken: Vec<AuthState> = futures::future::join_all(takes)
        .await
        .into_iter()
        .filter_map(|t| t.unwrap())
        .collect();
    assert_eq!(taken, vec![record]);
    assert_eq!(
        store.take_state(&unique("never-stored")).await.unwrap(),
        None
    );
}

pub async fn a_lock_is_exclusive_until_released_or_its_lease_ends(fixture: &Fixture) {
    let store = &fixture.store;
    let name = unique("lock");
    let token = store
        .try_lock(&name, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("first taker gets the lock");
    assert_eq!(
        store
            .try_lock(&name, Duration::from_secs(30))
            .await
            .unwrap(),
        None
    );
    store
        .unlock(
            &name,
            &auth0_client::session::LockToken("someone-else".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .try_lock(&name, Duration::from_secs(30))
            .await
            .unwrap(),
        None,
        "a foreign token does not release"
    );
    store.unlock(&name, &token).await.unwrap();
    let lease = Duration::from_millis(200);
    let taking = std::time::SystemTime::now();
    let short = store.try_lock(&name, lease).await.unwrap();
    assert!(short.is_some(), "released lock can be taken again");
    // Waits for the event (the lease ends and the lock can be taken), then checks
    // its order: never before the lease.
    let freed_at = until("an expired lease frees the lock", || async {
        store
            .try_lock(&name, Duration::from_secs(30))
            .await
            .unwrap()
            .is_some()
    })
    .await;
    assert!(
        whole_ms_between(taking, freed_at) >= lease.as_millis(),
        "the lock was free before its lease ended"
    );
    store.unlock(&name, &short.unwrap()).await.unwrap();
    assert_eq!(
        store.try_lock(&name, Duration::from_secs(1)).await.unwrap(),
        None,
        "the old holder cannot release a newer lock"
    );
}

pub async fn active_users_lists_each_user_once_while_a_session_lives(fixture: &Fixture) {
    let store = &fixture.store;
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a1, a2, b1) = (handle(), handle(), handle());
    store
        .put_session(&a1, &session_of(&alice, 3600))
        .await
        .unwrap();
    store
        .put_session(&a2, &session_of(&alice, 3600))
        .await
        .unwrap();
    store
        .put_session(&b1, &session_of(&bob, 3600))
        .await
        .unwrap();
    let active = store.active_users().await.unwrap();
    assert_eq!(active.iter().filter(|u| **u == alice).count(), 1);
    assert_eq!(active.iter().filter(|u| **u == bob).count(), 1);
    store.delete_session(&a1).await.unwrap();
    assert!(
        store.active_users().await.unwrap().contains(&alice),
        "alice still has a2"
    );
    store.delete_session(&a2).await.unwrap();
    let active = store.active_users().await.unwrap();
    assert!(!active.contains(&alice) && active.contains(&bob));
}

pub async fn deleting_a_users_sessions_ends_all_of_them_and_no_other(fixture: &Fixture) {
    let store = &fixture.store;
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a1, a2, b1) = (handle(), handle(), handle());
    store
        .put_session(&a1, &session_of(&alice, 3600))
        .await
        .unwrap();
    store
        .put_session(&a2, &session_of(&alice, 3600))
        .await
        .unwrap();
    store
        .put_session(&b1, &session_of(&bob, 3600))
        .await
        .unwrap();
    assert_eq!(store.delete_user_sessions(&alice).await.unwrap(), 2);
    assert_eq!(store.get_session(&a1).await.unwrap(), None);
    assert_eq!(store.get_session(&a2).await.unwrap(), None);
    assert!(store.get_session(&b1).await.unwrap().is_some());
    let active = store.active_users().await.unwrap();
    assert!(!active.contains(&alice) && active.contains(&bob));
    assert_eq!(store.delete_user_sessions(&alice).await.unwrap(), 0);
}

pub async fn ping_answers(fixture: &Fixture) {
    fixture.store.ping().await.unwrap();
}
