; Chunk definitions for YAML: each top-level key whose value is a block, and the keys one level
; below those that organise well-known files: a workflow's `jobs`, a Compose file's `services`.
(document
  (block_node
    (block_mapping
      (block_mapping_pair key: (flow_node) @name value: (block_node) @body) @definition.key)))

(document
  (block_node
    (block_mapping
      (block_mapping_pair
        key: (flow_node) @_section
        value: (block_node
          (block_mapping
            (block_mapping_pair key: (flow_node) @name value: (block_node) @body) @definition.key)))
      (#any-of? @_section "jobs" "services"))))
