; Chunk definitions for Lua. The table a function is stored in is its @scope: `function M.x`,
; `function M:x` and `M.x = function` are all `M.x`.
(function_declaration name: (identifier) @name body: (block)? @body) @definition.function
(function_declaration
  name: [
    (dot_index_expression table: (_) @scope field: (identifier) @name)
    (method_index_expression table: (_) @scope method: (identifier) @name)
  ]
  body: (block)? @body) @definition.function

(assignment_statement
  (variable_list
    .
    name: [
      (identifier) @name
      (dot_index_expression table: (_) @scope field: (identifier) @name)
    ])
  (expression_list . value: (function_definition body: (block)? @body))) @definition.function
(variable_declaration
  (assignment_statement
    (variable_list . name: (identifier) @name)
    (expression_list . value: (function_definition body: (block)? @body)))) @definition.function
