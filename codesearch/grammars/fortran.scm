; Chunk definitions for Fortran. Modules, submodules and programs are class-like, so their
; procedures become `module.procedure` chunks. An interface block is one chunk named by its first
; line (`interface norm`, `abstract interface`) and takes in the procedure signatures it declares.
; The grammar has no body node, so an oversized procedure is cut at line boundaries rather than
; between statements.
(module (module_statement (name) @name)) @definition.module
(submodule (submodule_statement (name) @name)) @definition.module
(program (program_statement (name) @name)) @definition.program
(derived_type_definition (derived_type_statement (type_name) @name)) @definition.type

(subroutine (subroutine_statement name: (name) @name)) @definition.function
(function (function_statement name: (name) @name)) @definition.function
(module_procedure (module_procedure_statement (name) @name)) @definition.function
(interface (interface_statement) @name) @definition.function
