# fuzz/manager_records.cmake: the vtpm-manager's record files (runtime/manager/records.cpp:
# decode_slot, decode_table, parse_header) under libFuzzer, from an instrumented copy of its
# source over vtpm_store_fuzz (fuzz/state_file.cmake). manager_records_seeds (uninstrumented, not
# run by the build) rewrites fuzz/corpus/manager_records/ under manager_records_keys.h's root key.
add_library(vtpm_manager_records_fuzz STATIC ${CMAKE_SOURCE_DIR}/runtime/manager/records.cpp)
target_include_directories(vtpm_manager_records_fuzz PUBLIC ${CMAKE_SOURCE_DIR}/runtime)
target_link_libraries(vtpm_manager_records_fuzz PUBLIC vtpm_store_fuzz)
target_compile_options(vtpm_manager_records_fuzz PRIVATE ${FSM_CORE_FLAGS} -fsanitize=fuzzer-no-link
                       ${FSM_FUZZ_SANITIZERS})

vtpm_fuzz_harness(manager_records vtpm_manager_records_fuzz)

add_executable(manager_records_seeds EXCLUDE_FROM_ALL manager_records_seeds.cpp)
target_link_libraries(manager_records_seeds PRIVATE vtpm::manager)
target_compile_options(manager_records_seeds PRIVATE ${FSM_WARNINGS})
# The harness calls the (-fno-rtti) OpensslCrypto itself, for the header's digest: built without
# RTTI too, which also turns off UBSan's vptr check there (it needs the typeinfo).
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/manager_records_fuzz.cpp PROPERTIES
                            COMPILE_OPTIONS -fno-rtti)
