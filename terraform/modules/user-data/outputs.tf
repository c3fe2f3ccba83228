output "user_data" {
  description = "The rendered user data (not base64-encoded)."
  value       = local.rendered
}

output "template" {
  description = "The template that was rendered."
  value       = local.template
}
