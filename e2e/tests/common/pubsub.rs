//! The Pub/Sub side: the run's topics and push subscriptions in its own emulator project.

use serde_json::{Value, json};

use super::{Env, ROUTES, http};

impl Env {
    /// `PUT` on the emulator's REST API (`path` like `projects/p/topics/t`), remembered
    /// for the teardown.
    async fn put_pubsub(&mut self, path: String, body: Value) {
        let url = format!("http://{}/v1/{path}", self.pubsub_host);
        let answer = http().put(&url).json(&body).send().await;
        match answer {
            Ok(response) if response.status().is_success() => {
                self.pubsub_resources.push(path);
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                self.fail(format!("PUT {url} {body}: {status} {text}"))
            }
            Err(error) => self.fail(format!(
                "PUT {url}: {error} (is the Pub/Sub emulator running? `make services`)"
            )),
        }
    }

    pub(super) async fn create_pubsub_topics(&mut self) {
        let mut topics: Vec<&str> = ROUTES.iter().map(|(topic, _)| *topic).collect();
        topics.push("eventos-reportes");
        topics.dedup();
        for topic in topics {
            let path = format!("projects/{}/topics/{topic}", self.pubsub_project);
            self.put_pubsub(path, json!({})).await;
        }
    }

    /// One push subscription per route of the bridge's table, pushing to the consuming
    /// function's `/events` as Pub/Sub does on GCP.
    pub(super) async fn create_push_subscriptions(&mut self) {
        for (topic, function) in ROUTES {
            let project = self.pubsub_project.clone();
            let path = format!("projects/{project}/subscriptions/{function}-{topic}");
            let body = json!({
                "topic": format!("projects/{project}/topics/{topic}"),
                "pushConfig": {"pushEndpoint": format!("{}/events", self.urls[function])},
                "ackDeadlineSeconds": 30,
            });
            self.put_pubsub(path, body).await;
        }
    }
}
