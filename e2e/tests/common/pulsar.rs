//! The Pulsar side: the run's namespace, its topics and the bridge's subscriptions
//! (through the admin API), and deleting a namespace with its topics.

use super::{Env, ROUTES, http};

impl Env {
    /// The bridge's subscription for `function`: its name, as in production (the
    /// namespace is the run's own).
    pub fn subscription(&self, function: &str) -> String {
        function.to_owned()
    }

    /// `persistent://<run namespace>/<short>`.
    pub fn topic(&self, short: &str) -> String {
        format!("persistent://{}/{short}", self.namespace)
    }

    /// The admin API's URL of the run's topic `short`.
    pub fn topic_admin_url(&self, short: &str) -> String {
        format!(
            "{}/admin/v2/persistent/{}/{short}",
            self.pulsar_admin_url, self.namespace
        )
    }

    /// Creates the run's namespace, its topics and the bridge's subscriptions before the
    /// bridge starts, as a deployment has them (and so that nothing published before the
    /// bridge subscribes is missed).
    pub async fn create_subscriptions(&mut self) {
        let client = http();
        let namespace_url = format!(
            "{}/admin/v2/namespaces/{}",
            self.pulsar_admin_url, self.namespace
        );
        let mut resources = vec![namespace_url];
        let mut topics: Vec<&str> = ROUTES.iter().map(|(topic, _)| *topic).collect();
        topics.push("eventos-reportes");
        topics.dedup();
        resources.extend(topics.iter().map(|topic| self.topic_admin_url(topic)));
        for url in resources {
            match client.put(&url).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    self.fail(format!("PUT {url}: {status} {body}"))
                }
                Err(error) => self.fail(format!(
                    "PUT {url}: {error} (is Pulsar running? `make services`)"
                )),
            }
            self.namespace_created = true;
        }
        for (topic, function) in ROUTES {
            let subscription = self.subscription(function);
            let url = format!(
                "{}/subscription/{subscription}",
                self.topic_admin_url(topic)
            );
            let answer = client.put(&url).send().await;
            match answer {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    self.fail(format!("PUT {url}: {status} {body}"))
                }
                Err(error) => self.fail(format!(
                    "PUT {url}: {error} (is Pulsar running? `make services`)"
                )),
            }
        }
    }
}

/// Deletes `namespace` (`tenant/name`) and its topics (subscriptions, the bridge's retry,
/// attempt and dead-letter topics): whether it is gone. Best effort.
pub async fn delete_namespace(client: &reqwest::Client, admin_url: &str, namespace: &str) -> bool {
    let topics_url = format!("{admin_url}/admin/v2/namespaces/{namespace}/topics");
    let topics: Vec<String> = match client.get(&topics_url).send().await {
        Ok(response) if response.status() == 200 => response.json().await.unwrap_or_default(),
        _ => Vec::new(),
    };
    for topic in topics {
        let Some(path) = topic.strip_prefix("persistent://") else {
            continue;
        };
        let url = format!("{admin_url}/admin/v2/persistent/{path}?force=true");
        if let Err(error) = client.delete(&url).send().await {
            eprintln!("e2e: DELETE {url}: {error}");
        }
    }
    let url = format!("{admin_url}/admin/v2/namespaces/{namespace}");
    match client.delete(&url).send().await {
        Ok(response) if response.status().is_success() || response.status() == 404 => true,
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            eprintln!("e2e: DELETE {url}: {status} {body}");
            false
        }
        Err(error) => {
            eprintln!("e2e: DELETE {url}: {error}");
            false
        }
    }
}
