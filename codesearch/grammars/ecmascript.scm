; Chunk definitions JavaScript and TypeScript share (each language's own .scm adds the rest).
(function_declaration name: (_) @name body: (statement_block) @body) @definition.function
(generator_function_declaration name: (_) @name body: (statement_block) @body) @definition.function

(variable_declarator
  name: (identifier) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
    (generator_function body: (_) @body)
  ]) @definition.function

; A function assigned to a member at the top of the file (`res.render = function`,
; `Router.prototype.use = ...`, `exports.parse = (s) => ...`; express, send). The symbol is the
; left-hand side as written (@scope.@name), but `module.x` and `module.x.y` lose `module.`
; (the second pattern), so that `module.exports.x` and `exports.x` name the same thing and
; `module.exports = function` is `exports`. Only top-level statements: assignments inside a
; callback (zod's `inst.parse = ...` in `$constructor(...)`) would cut its body into one-line
; chunks that lose the name of what they build.
(program
  (expression_statement
    (assignment_expression
      left: (member_expression object: (_) @scope property: (_) @name)
      right: [
        (arrow_function body: (_) @body)
        (function_expression body: (_) @body)
        (generator_function body: (_) @body)
      ])
    (#not-match? @scope "^module(\\.[^.]+)?$")) @definition.function)

(program
  (expression_statement
    (assignment_expression
      left: [
        (member_expression object: (identifier) @_module property: (_) @name)
        (member_expression
          object: (member_expression object: (identifier) @_module property: (_) @scope)
          property: (_) @name)
      ]
      right: [
        (arrow_function body: (_) @body)
        (function_expression body: (_) @body)
        (generator_function body: (_) @body)
      ])
    (#eq? @_module "module")) @definition.function)

(method_definition name: (_) @name body: (statement_block) @body) @definition.function
