# Configures (and for MODE=run builds and runs) a consumer project in a fresh folder.
#   cmake -DSOURCE=... -DBINARY=... -DMODE=run|pass|fail [-DREGEX=...] [-DRUN=prog1|prog2]
#         [-DOPTIONS=-Da=1|-Db=2] [-DGENERATOR=...] [-DCXX=...] -P run_downstream.cmake
# pass/fail: the configure must succeed/fail and its output must match REGEX.
foreach(_v IN ITEMS SOURCE BINARY MODE)
    if(NOT DEFINED ${_v})
        message(FATAL_ERROR "run_downstream: ${_v} is not set")
    endif()
endforeach()
string(REPLACE "|" ";" _options "${OPTIONS}")
string(REPLACE "|" ";" _run "${RUN}")
set(_generator)
if(GENERATOR)
    set(_generator -G "${GENERATOR}")
endif()
if(CXX)
    list(APPEND _options "-DCMAKE_CXX_COMPILER=${CXX}")
endif()

file(REMOVE_RECURSE "${BINARY}")
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" ${_generator}
                        -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON ${_options}
                RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
message("---- configure (exit ${_rc}) ----\n${_out}")

if(MODE STREQUAL "fail")
    if(_rc EQUAL 0)
        message(FATAL_ERROR "run_downstream: configure was expected to fail but succeeded")
    endif()
elseif(NOT _rc EQUAL 0)
    message(FATAL_ERROR "run_downstream: configure failed")
endif()
if(DEFINED REGEX AND NOT _out MATCHES "${REGEX}")
    message(FATAL_ERROR "run_downstream: configure output does not match '${REGEX}'")
endif()
if(NOT MODE STREQUAL "run")
    return()
endif()

execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "run_downstream: build failed")
endif()
foreach(_program IN LISTS _run)
    execute_process(COMMAND "${BINARY}/${_program}" RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "run_downstream: ${_program} exited with ${_rc}")
    endif()
endforeach()
