; Chunk definitions for Solidity. Contracts, interfaces and libraries are class-like. Functions
; without a body (interface and abstract members), events, errors and enums are one-line
; declarations: they stay in their container's chunk, which they describe.
(contract_declaration name: (identifier) @name body: (contract_body) @body) @definition.contract
(interface_declaration name: (identifier) @name body: (contract_body) @body) @definition.interface
(library_declaration name: (identifier) @name body: (contract_body) @body) @definition.library

(function_definition name: (identifier) @name body: (function_body) @body) @definition.function
(modifier_definition name: (identifier) @name body: (function_body) @body) @definition.function
(constructor_definition "constructor" @name body: (function_body) @body) @definition.function
(fallback_receive_definition ["receive" "fallback"] @name body: (function_body) @body) @definition.function

(struct_declaration name: (identifier) @name body: (struct_body) @body) @definition.struct
