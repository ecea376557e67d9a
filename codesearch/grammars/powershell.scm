; Chunk definitions for PowerShell: functions, filters and workflows, classes and enums.
; A script block holds what is inside the braces, so a class method captures no @body: its
; summary would close the brace twice.
(function_statement (function_name) @name (script_block)? @body) @definition.function
(class_statement . (simple_name) @name) @definition.class
(class_method_definition (simple_name) @name) @definition.method
(enum_statement . (simple_name) @name) @definition.enum
