{#- A 1..5 quintile score of a column that gives tied values the same score:

        score = least(5, 1 + floor(5 * (rank - 1) / (n - 1)))

    where rank is the rank of the value (1 = worst; ties share the lowest rank) and n the number of
    non-NULL values in the partition. (rank - 1) / (n - 1) is percent_rank: the share of the other
    rows whose value is strictly worse. A score of s means that share lies in [(s-1)/5, s/5)
    (5: [0.8, 1]). Computed from integer ranks so that a share of exactly 0.2, 0.4, ... is not
    moved by floating-point error. A single row scores 1; NULL values score NULL.
    higher_is_better=false ranks descending (e.g. recency: fewer days is better). -#}
{% macro quintile_score(column, partition_by=none, higher_is_better=true) -%}
    {%- set window_partition = ('partition by ' ~ partition_by ~ ' ') if partition_by else '' -%}
    cast(
        case
            when {{ column }} is not null then least(
                5,
                1 + floor(
                    5.0 * (
                        rank() over (
                            {{ window_partition }}order by {{ column }} {{ 'asc' if higher_is_better else 'desc' }} nulls last
                        ) - 1
                    )
                    / greatest(count({{ column }}) over ({{ window_partition | trim }}) - 1, 1)
                )
            )
        end
        as integer
    )
{%- endmacro %}
