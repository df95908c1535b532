//! How a tag's history changes: new events are prepended, repeats
//! collapse, tracking tags follow the tag they track (the rules are in
//! docs/compatibility.md#image-stream-history and #tracking-tags).

use crate::types::{
    CONDITION_IMPORT_SUCCESS, ImageStream, KIND_IMAGE_STREAM_TAG, NamedTagEventList, TagEvent, TagEventCondition,
};

/// Add `event` to the history of `tag`, compared with the current item:
///
/// - same reference, image and generation: nothing changes;
/// - same reference and image: the current item takes the new generation;
/// - same reference: the current item takes the new image (and generation);
/// - same image: the current item takes the new reference (and generation);
/// - otherwise the event is prepended.
///
/// Any change clears the tag's conditions. Returns whether anything changed.
pub fn add_tag_event(stream: &mut ImageStream, tag: &str, event: TagEvent) -> bool {
    if event.docker_image_reference.is_empty() {
        return false;
    }
    let tags = &mut stream.status.tags;
    let list = match tags.iter().position(|t| t.tag == tag) {
        Some(index) => &mut tags[index],
        None => {
            let at = tags.partition_point(|t| t.tag.as_str() < tag);
            tags.insert(at, NamedTagEventList { tag: tag.into(), items: Vec::new(), conditions: Vec::new() });
            &mut tags[at]
        }
    };
    let Some(previous) = list.items.first_mut() else {
        list.items.push(event);
        list.conditions.clear();
        return true;
    };
    let same_reference = previous.docker_image_reference == event.docker_image_reference;
    let same_image = previous.image == event.image;
    let same_generation = previous.generation == event.generation;
    match (same_reference, same_image) {
        (true, true) if same_generation => return false,
        (true, true) => previous.generation = event.generation,
        (true, false) => {
            previous.image = event.image;
            previous.generation = event.generation;
        }
        (false, true) => {
            previous.docker_image_reference = event.docker_image_reference;
            previous.generation = event.generation;
        }
        (false, false) => list.items.insert(0, event),
    }
    list.conditions.clear();
    true
}

/// Give `event`, just added to `updated_tag`, to every spec tag of the same
/// stream that tracks it (`from: ImageStreamTag <tag>` or `<stream>:<tag>`),
/// and to the tags tracking those, and so on. Returns the tags changed.
pub fn update_tracking_tags(stream: &mut ImageStream, updated_tag: &str, event: &TagEvent) -> Vec<String> {
    let mut changed = Vec::new();
    let mut queue = vec![updated_tag.to_owned()];
    let mut visited = vec![updated_tag.to_owned()];
    while let Some(source) = queue.pop() {
        let trackers: Vec<String> = stream
            .spec
            .tags
            .iter()
            .filter(|spec| spec.name != source && tracks(stream, spec, &source))
            .map(|spec| spec.name.clone())
            .collect();
        for tracker in trackers {
            if visited.contains(&tracker) {
                continue;
            }
            visited.push(tracker.clone());
            if add_tag_event(stream, &tracker, event.clone()) {
                changed.push(tracker.clone());
            }
            queue.push(tracker);
        }
    }
    changed
}

/// Whether `spec` tracks `tag` of its own stream.
fn tracks(stream: &ImageStream, spec: &crate::types::TagReference, tag: &str) -> bool {
    let Some(from) = &spec.from else { return false };
    if from.kind != KIND_IMAGE_STREAM_TAG {
        return false;
    }
    if !from.namespace.is_empty() && from.namespace != stream.metadata.namespace {
        return false;
    }
    match from.name.split_once(':') {
        Some((name, from_tag)) => name == stream.metadata.name && from_tag == tag,
        None => from.name == tag,
    }
}

/// The newest generation the tag has seen: the maximum over its items and conditions.
pub fn observed_generation(stream: &ImageStream, tag: &str) -> i64 {
    let Some(list) = stream.status_tag(tag) else { return 0 };
    let items = list.items.iter().map(|i| i.generation);
    let conditions = list.conditions.iter().map(|c| c.generation);
    items.chain(conditions).max().unwrap_or(0)
}

/// Record a failed import of `tag` at `generation`: `ImportSuccess=False` with
/// `reason` and `message`; the tag's image stays what it was.
pub fn set_import_failure(
    stream: &mut ImageStream,
    tag: &str,
    generation: i64,
    reason: &str,
    message: &str,
    now: &str,
) {
    let tags = &mut stream.status.tags;
    let index = match tags.iter().position(|t| t.tag == tag) {
        Some(index) => index,
        None => {
            let at = tags.partition_point(|t| t.tag.as_str() < tag);
            tags.insert(at, NamedTagEventList { tag: tag.into(), items: Vec::new(), conditions: Vec::new() });
            at
        }
    };
    let list = &mut tags[index];
    let last_transition_time = match list.conditions.iter().find(|c| c.kind == CONDITION_IMPORT_SUCCESS) {
        Some(existing) if existing.status == "False" && !existing.last_transition_time.is_empty() => {
            existing.last_transition_time.clone()
        }
        _ => now.to_owned(),
    };
    list.conditions = vec![TagEventCondition {
        kind: CONDITION_IMPORT_SUCCESS.into(),
        status: "False".into(),
        last_transition_time,
        reason: reason.into(),
        message: message.into(),
        generation,
    }];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ObjectReference, TagReference};

    fn event(reference: &str, image: &str, generation: i64) -> TagEvent {
        TagEvent {
            created: "2026-01-01T00:00:00Z".into(),
            docker_image_reference: reference.into(),
            image: image.into(),
            generation,
        }
    }

    fn items(stream: &ImageStream, tag: &str) -> Vec<(String, String, i64)> {
        stream
            .status_tag(tag)
            .map(|t| {
                t.items.iter().map(|i| (i.docker_image_reference.clone(), i.image.clone(), i.generation)).collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn history_rules() {
        let mut s = ImageStream::new("ns", "app");
        assert!(add_tag_event(&mut s, "t", event("r1", "i1", 1)));
        assert!(!add_tag_event(&mut s, "t", event("r1", "i1", 1)), "an exact repeat changes nothing");
        assert!(add_tag_event(&mut s, "t", event("r1", "i1", 2)), "a new generation collapses");
        assert_eq!(items(&s, "t"), [("r1".into(), "i1".into(), 2)]);
        assert!(add_tag_event(&mut s, "t", event("r1", "i2", 3)), "same reference, new image: replaced");
        assert_eq!(items(&s, "t"), [("r1".into(), "i2".into(), 3)]);
        assert!(add_tag_event(&mut s, "t", event("r2", "i2", 3)), "same image, new reference: replaced");
        assert_eq!(items(&s, "t"), [("r2".into(), "i2".into(), 3)]);
        assert!(add_tag_event(&mut s, "t", event("r3", "i3", 4)), "new image and reference: prepended");
        assert_eq!(items(&s, "t"), [("r3".into(), "i3".into(), 4), ("r2".into(), "i2".into(), 3)]);
        assert!(!add_tag_event(&mut s, "t", event("", "i4", 5)), "events without a reference are ignored");
    }

    #[test]
    fn tags_stay_sorted_and_conditions_clear_on_success() {
        let mut s = ImageStream::new("ns", "app");
        for tag in ["b", "c", "a"] {
            add_tag_event(&mut s, tag, event("r", "i", 1));
        }
        assert_eq!(s.status.tags.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        set_import_failure(&mut s, "b", 2, "NotFound", "gone", "now");
        assert_eq!(observed_generation(&s, "b"), 2);
        assert_eq!(s.latest("b").unwrap().image, "i", "a failure keeps the image");
        add_tag_event(&mut s, "b", event("r2", "i2", 3));
        assert!(s.status_tag("b").unwrap().conditions.is_empty());
        set_import_failure(&mut s, "new", 1, "Unauthorized", "no", "now");
        assert_eq!(s.status.tags.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(), ["a", "b", "c", "new"]);
    }

    #[test]
    fn tracking_tags_follow_recursively_without_looping() {
        let mut s = ImageStream::new("ns", "app");
        let track = |name: &str, from: &str| TagReference {
            name: name.into(),
            from: Some(ObjectReference::new(KIND_IMAGE_STREAM_TAG, from)),
            ..TagReference::default()
        };
        s.spec.tags = vec![
            track("latest", "stable"),
            track("stable", "app:1.0"),
            track("loop-a", "loop-b"),
            track("loop-b", "loop-a"),
            track("other", "other-stream:1.0"),
        ];
        let e = event("r", "i", 1);
        add_tag_event(&mut s, "1.0", e.clone());
        let changed = update_tracking_tags(&mut s, "1.0", &e);
        assert_eq!(changed, ["stable", "latest"]);
        assert_eq!(s.latest("latest").unwrap().image, "i");
        assert!(s.latest("other").is_none(), "tracking works within the stream only");
        let changed = update_tracking_tags(&mut s, "loop-a", &e);
        assert_eq!(changed, ["loop-b"], "a cycle ends");
    }
}
