# Downloads Flotilla's Lambda zips from a GitHub release with terraform_data and
# local-exec (curl), so a root module can deploy released zips without building
# them. Runs on `terraform apply` on the machine running Terraform; re-downloads
# when a tag or file name changes. Not applied in CI (no network there).
#
#   module "lambdas" {
#     source     = "<flotilla>//terraform/modules/download-lambda"
#     repository = "<owner>/<flotilla repository>"
#     lambdas = [
#       { name = "webhook.zip", tag = "v0.1.0" },
#       { name = "runners.zip", tag = "v0.1.0" },
#       { name = "runner-binaries-syncer.zip", tag = "v0.1.0" },
#     ]
#   }
#   # then: webhook_lambda_zip = module.lambdas.files["webhook.zip"], ...

locals {
  lambdas = { for l in var.lambdas : l.name => l }
  files   = { for name, l in local.lambdas : name => abspath("${var.output_dir}/${l.tag}/${l.architecture}/${name}") }
}

resource "terraform_data" "download" {
  for_each = local.lambdas

  triggers_replace = {
    url  = "https://github.com/${var.repository}/releases/download/${each.value.tag}/${each.value.architecture == "x86_64" ? each.key : replace(each.key, ".zip", "-arm64.zip")}"
    file = local.files[each.key]
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = "mkdir -p \"$(dirname \"$FILE\")\" && curl -fsSL --retry 3 -o \"$FILE.part\" \"$URL\" && mv \"$FILE.part\" \"$FILE\""
    environment = {
      URL  = self.triggers_replace.url
      FILE = self.triggers_replace.file
    }
  }
}
