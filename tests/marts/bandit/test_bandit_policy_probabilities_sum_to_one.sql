-- Every customer of ml_bandit_policy has one probability per arm of the active version's arm list, summing to
-- 1 (1e-4: the logging policy's probabilities are logged with six decimals), all from the active version.
with

customer_probabilities as (

    select * from {{ ref('ml_bandit_policy') }}

),

published_policy as (

    select * from {{ ref('ml_bandit_published_policy') }}

),

active_version as (

    select
        policy_id,
        version

    from published_policy
    where is_active

),

customers as (

    select
        customer_probabilities.customer_id,
        count(*) as n_arms,
        sum(customer_probabilities.probability) as total_probability,
        count_if(active_version.policy_id is null) as rows_not_from_the_active_version

    from customer_probabilities
    left join active_version
        on customer_probabilities.policy_id = active_version.policy_id
        and customer_probabilities.version = active_version.version
    group by customer_probabilities.customer_id

),

final as (

    select * from customers
    where abs(total_probability - 1) > 1e-4
        or rows_not_from_the_active_version > 0
        or n_arms <> (select max(n_arms) from customers)

)

select * from final
