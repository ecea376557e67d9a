; Chunk definitions for HCL (Terraform, Packer, Nomad): top-level blocks, nested ones stay inside.
; Two labels name it as Terraform addresses it (`aws_s3_bucket.logs`), one label after its
; block type (`module.vpc`, `variable.region`), none by the type alone (`locals`, `terraform`).
(config_file
  (body
    (block
      .
      (identifier)
      .
      [(string_lit (template_literal) @scope) (identifier) @scope]
      .
      [(string_lit (template_literal) @name) (identifier) @name]
      .
      (block_start)
      .
      (body)? @body) @definition.block))

(config_file
  (body
    (block
      .
      (identifier) @scope
      .
      [(string_lit (template_literal) @name) (identifier) @name]
      .
      (block_start)
      .
      (body)? @body) @definition.block))

(config_file
  (body
    (block
      .
      (identifier) @name
      .
      (block_start)
      .
      (body)? @body) @definition.block))
