output "files" {
  description = "Downloaded zip paths by name, e.g. files[\"webhook.zip\"]; they exist after apply."
  value       = { for name, d in terraform_data.download : name => d.triggers_replace.file }
}
