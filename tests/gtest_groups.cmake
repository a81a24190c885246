# Writes the CTest file of a GoogleTest executable whose tests run in groups (camkit_add_grouped_tests
# in CMakeLists.txt): run after each build of EXE, with
#   EXE       the test executable
#   OUT       the CTest file to write
#   PREFIX    the prefix of every CTest name
#   LABEL     the tests' label
#   GROUP     the most tests a group holds
#   XML_DIR   where each group's GoogleTest report goes (scripts/count_tests.py counts its tests)
#   EXCLUDE   a regular expression: the tests (Suite.Test) it matches are not run
#   PROPS     further test properties, as set_tests_properties takes them (separated by spaces)
# Each group is one CTest test: `EXE --gtest_filter=<its tests> --gtest_output=xml:<XML_DIR>/<name>.xml`,
# named <PREFIX><Suite> where the suite is one group, else <PREFIX><Suite> (i/n). A group's tests
# share a process, and so a LibTorch start-up (0.4 s; 1.1 s under the sanitizers) in place of one
# start per test.
foreach(_var IN ITEMS EXE OUT LABEL GROUP XML_DIR)
    if(NOT DEFINED ${_var})
        message(FATAL_ERROR "gtest_groups.cmake: ${_var} not given")
    endif()
endforeach()

execute_process(COMMAND "${EXE}" --gtest_list_tests
                OUTPUT_VARIABLE _listing ERROR_VARIABLE _err RESULT_VARIABLE _rc TIMEOUT 120)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${EXE} --gtest_list_tests failed (${_rc}): ${_err}")
endif()

# `Suite.` starts a suite; `  Test` (with `  # GetParam() = ...` after a parameterized one) a test.
string(REPLACE "\n" ";" _lines "${_listing}")
set(_suites)
set(_suite "")
foreach(_line IN LISTS _lines)
    if(_line MATCHES "^([A-Za-z0-9_/]+)\\.$")
        set(_suite "${CMAKE_MATCH_1}")
    elseif(_line MATCHES "^  ([A-Za-z0-9_/]+)" AND _suite)
        set(_name "${_suite}.${CMAKE_MATCH_1}")
        if(DEFINED EXCLUDE AND NOT EXCLUDE STREQUAL "" AND _name MATCHES "${EXCLUDE}")
            continue()
        endif()
        string(MAKE_C_IDENTIFIER "${_suite}" _id)
        if(NOT DEFINED _tests_${_id})
            list(APPEND _suites "${_suite}")
        endif()
        list(APPEND _tests_${_id} "${_name}")
    endif()
endforeach()
if(NOT _suites)
    message(FATAL_ERROR "${EXE} lists no test")
endif()

set(_text "")
foreach(_suite IN LISTS _suites)
    string(MAKE_C_IDENTIFIER "${_suite}" _id)
    list(LENGTH _tests_${_id} _count)
    math(EXPR _groups "(${_count} + ${GROUP} - 1) / ${GROUP}")
    # Tests spread evenly over the groups: 9 in groups of 8 make 5 + 4, not 8 + 1.
    math(EXPR _size "(${_count} + ${_groups} - 1) / ${_groups}")
    set(_first 0)
    foreach(_group RANGE 1 ${_groups})
        math(EXPR _left "${_count} - ${_first}")
        if(_left LESS _size)
            set(_size ${_left})
        endif()
        list(SUBLIST _tests_${_id} ${_first} ${_size} _members)
        math(EXPR _first "${_first} + ${_size}")
        string(JOIN ":" _filter ${_members})
        if(_groups EQUAL 1)
            set(_name "${PREFIX}${_suite}")
        else()
            set(_name "${PREFIX}${_suite} (${_group}/${_groups})")
        endif()
        string(MAKE_C_IDENTIFIER "${_name}" _file)
        string(APPEND _text
            "add_test([==[${_name}]==] [==[${EXE}]==] [==[--gtest_filter=${_filter}]==] "
            "[==[--gtest_output=xml:${XML_DIR}/${_file}.xml]==])\n"
            "set_tests_properties([==[${_name}]==] PROPERTIES LABELS [==[${LABEL}]==] ${PROPS})\n")
    endforeach()
endforeach()
file(WRITE "${OUT}" "${_text}")
