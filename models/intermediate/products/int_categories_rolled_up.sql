-- Every category with its top-level ancestor. The tree is walked up by a fixed number of self-joins
-- (var 'category_max_depth', default 6 levels: portable SQL, no recursive CTE). The walk stops at the
-- last ancestor found; has_complete_path is false when that ancestor still names a parent (a parent
-- missing from the table, a tree deeper than the walk, or a cycle).
{%- set max_depth = var('category_max_depth', 6) %}
with

categories as (

    select * from {{ ref('stg_shop__categories') }}

),

walked as (

    select
        level_0.category_id,
        level_0.category_name,
        level_0.parent_category_id,
        {%- for level in range(1, max_depth + 1) %}
        level_{{ level }}.category_id as ancestor_{{ level }}_id,
        {%- endfor %}
        {%- for level in range(0, max_depth + 1) %}
        level_{{ level }}.parent_category_id as ancestor_{{ level }}_parent_id{{ ',' if not loop.last }}
        {%- endfor %}

    from categories as level_0
    {%- for level in range(1, max_depth + 1) %}
    left join categories as level_{{ level }}
        on level_{{ level - 1 }}.parent_category_id = level_{{ level }}.category_id
    {%- endfor %}

),

rolled_up as (

    select
        category_id,
        category_name,
        parent_category_id,
        coalesce(
            {%- for level in range(max_depth, 0, -1) %}
            ancestor_{{ level }}_id,
            {%- endfor %}
            category_id
        ) as top_level_category_id,
        cast(
            {%- for level in range(1, max_depth + 1) %}
            case when ancestor_{{ level }}_id is not null then 1 else 0 end{{ ' +' if not loop.last }}
            {%- endfor %}
            as integer
        ) as category_level,
        case
            {%- for level in range(max_depth, 0, -1) %}
            when ancestor_{{ level }}_id is not null then ancestor_{{ level }}_parent_id is null
            {%- endfor %}
            else ancestor_0_parent_id is null
        end as has_complete_path

    from walked

),

final as (

    select
        rolled_up.category_id,
        rolled_up.category_name,
        rolled_up.parent_category_id,
        rolled_up.top_level_category_id,
        top_level.category_name as top_level_category_name,
        rolled_up.category_level,
        rolled_up.has_complete_path

    from rolled_up
    left join categories as top_level
        on rolled_up.top_level_category_id = top_level.category_id

)

select * from final
