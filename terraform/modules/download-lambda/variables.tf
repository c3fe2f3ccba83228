variable "repository" {
  description = "owner/name of the GitHub repository whose releases carry the zips."
  type        = string

  validation {
    condition     = can(regex("^[^/]+/[^/]+$", var.repository))
    error_message = "repository must be owner/name."
  }
}

variable "lambdas" {
  description = "Zips to fetch: name (webhook.zip, runners.zip, runner-binaries-syncer.zip), release tag, architecture (x86_64 or arm64; arm64 assets are named <name>-arm64.zip)."
  type = list(object({
    name         = string
    tag          = string
    architecture = optional(string, "x86_64")
  }))

  validation {
    condition     = alltrue([for l in var.lambdas : contains(["webhook.zip", "runners.zip", "runner-binaries-syncer.zip"], l.name) && contains(["x86_64", "arm64"], l.architecture)])
    error_message = "lambdas: name must be webhook.zip, runners.zip or runner-binaries-syncer.zip; architecture x86_64 or arm64."
  }
}

variable "output_dir" {
  description = "Folder to download into (<output_dir>/<tag>/<architecture>/<name>)."
  type        = string
  default     = "lambdas"
}
