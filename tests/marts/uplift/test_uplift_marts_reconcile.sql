-- The uplift marts lose and invent no rows: one training row per experiment exposure whose attribution
-- window has closed, one scoring row per registered customer (dim_customers). Any row returned is a
-- count that does not reconcile.
with

training as (

    select * from {{ ref('fct_uplift_training_exposures') }}

),

scoring as (

    select * from {{ ref('fct_uplift_scoring_customers') }}

),

exposures as (

    select * from {{ ref('fct_experiment_exposures') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

counts as (

    select 'training rows vs closed exposures' as problem,
        (select count(*) from training) as model_rows,
        (select count(*) from exposures where is_window_closed) as expected_rows

    union all

    select 'scoring rows vs customers' as problem,
        (select count(*) from scoring) as model_rows,
        (select count(*) from customers) as expected_rows

)

select * from counts
where model_rows <> expected_rows
