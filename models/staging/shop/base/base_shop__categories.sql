-- Every raw category, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
with

source as (

    select * from {{ source('shop', 'categories') }}

),

typed as (

    select
        {{ clean_text('category_id') }} as category_id,
        {{ clean_text('parent_category_id') }} as parent_category_id,
        {{ clean_text('category_name') }} as category_name

    from source

),

ranked as (

    select
        *,
        row_number() over (partition by category_id order by parent_category_id, category_name) as copy_number

    from typed

),

checked as (

    select
        category_id,
        parent_category_id,
        category_name,
        copy_number,
        {{ first_failed_check([
            ['missing_category_id', 'category_id is null'],
            ['self_parent', 'parent_category_id = category_id'],
            ['duplicate_category_id', 'copy_number > 1'],
        ]) }} as dq_reason

    from ranked

)

select * from checked
