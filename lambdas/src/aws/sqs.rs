//! SQS: the build queue.

use aws_sdk_sqs::Client;

use super::sdk_error;
use crate::ports::{AwsError, QueueMessage};

pub async fn send(sqs: &Client, message: QueueMessage<'_>) -> Result<(), AwsError> {
    let body =
        serde_json::to_string(message.job).map_err(|e| AwsError::new(None, e.to_string()))?;
    let mut req = sqs
        .send_message()
        .queue_url(message.queue_url)
        .message_body(body);
    if let Some(fifo) = message.fifo {
        req = req
            .message_deduplication_id(&fifo.deduplication_id)
            .message_group_id(&fifo.group_id);
    }
    req.send().await.map_err(sdk_error)?;
    Ok(())
}

pub async fn change_visibility(
    sqs: &Client,
    queue_url: &str,
    receipt_handle: &str,
    seconds: u32,
) -> Result<(), AwsError> {
    sqs.change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(receipt_handle)
        .visibility_timeout(i32::try_from(seconds.min(43_200)).unwrap_or(43_200))
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}
