-- One row per experiment x variant of its planned split. planned_split is a comma-separated list of
-- variant:weight pairs ('control:1,email_10pct:1'); spaces around names and weights are ignored,
-- empty pairs (',,') are skipped, and a pair without a usable positive weight ('bogo', 'bogo:x',
-- 'bogo:0') keeps its variant with a NULL planned_weight so that the problem is visible.
-- planned_share = weight / sum of the experiment's weights.
with

experiments as (

    select * from {{ ref('stg_shop__experiments') }}

),

split_pairs as (

    select
        experiment_id,
        control_variant,
        {{ split_to_rows('planned_split', ',') }} as split_pair

    from experiments

),

parsed as (

    select
        experiment_id,
        control_variant,
        trim(split_part(split_pair, ':', 1)) as variant,
        try_cast(trim(split_part(split_pair, ':', 2)) as double) as raw_weight

    from split_pairs
    where trim(split_pair) <> ''

),

weighted as (

    select
        experiment_id,
        control_variant,
        variant,
        case when raw_weight > 0 then raw_weight end as planned_weight

    from parsed
    where variant <> ''

),

deduplicated as (

    -- a variant listed twice in one split keeps the sum of its weights
    select
        experiment_id,
        control_variant,
        variant,
        sum(planned_weight) as planned_weight

    from weighted
    group by experiment_id, control_variant, variant

),

final as (

    select
        experiment_id,
        variant,
        variant = control_variant as is_control,
        planned_weight,
        planned_weight / sum(planned_weight) over (partition by experiment_id) as planned_share

    from deduplicated

)

select * from final
